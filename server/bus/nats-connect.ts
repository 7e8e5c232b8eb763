// Opens the bus's NATS connection. `@nats-io/transport-node` is an optional peer dependency: it is
// imported here, when `createFete({ bus: { nats } })` asks for it, never by `fete/server` itself,
// and an app without it gets a clear INVALID_OPTIONS naming the package.
import type { NatsConnection, NodeConnectionOptions } from '@nats-io/transport-node';
import { FeteError } from '../../shared/index.js';
import type { NatsOption } from './event-bus.js';


export async function connectNats(option: NatsOption, name: string): Promise<NatsConnection> {
  let mod: typeof import('@nats-io/transport-node');
  try {
    mod = await import('@nats-io/transport-node');
  } catch (err) {
    throw new FeteError('INVALID_OPTIONS', 'createFete({ bus: { nats } }) needs the @nats-io/transport-node package (an optional peer dependency of fete): npm install @nats-io/transport-node', {
      cause: err,
    });
  }
  const given = (typeof option === 'string' || Array.isArray(option) ? { servers: option } : option) as NodeConnectionOptions;
  try {
    return await mod.connect({
      name,
      // Keep trying for ever: the bus is an optimisation over the store, which covers any outage.
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      ...given,
      noEcho: true,
    });
  } catch (err) {
    throw new FeteError('NETWORK', `bus: cannot connect to NATS at ${JSON.stringify(given.servers ?? 'localhost:4222')}: ${(err as Error).message}`, { cause: err });
  }
}
