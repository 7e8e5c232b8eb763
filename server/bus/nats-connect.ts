// Opens the bus's NATS connection. `@nats-io/transport-node` is an optional peer dependency: it is
// imported here, when `createFete({ bus: { nats } })` asks for it, never by `fete/server` itself,
// and an app without it gets a clear INVALID_OPTIONS naming the package.
import type { NatsConnection, NodeConnectionOptions } from '@nats-io/transport-node';
import { FeteError } from '../../shared/index.js';
import type { NatsOption } from './event-bus.js';

export type NatsModule = typeof import('@nats-io/transport-node');

/** Imports the NATS client. @throws FeteError INVALID_OPTIONS when the package is not installed. */
export async function loadNats(): Promise<NatsModule> {
  try {
    return await import('@nats-io/transport-node');
  } catch (err) {
    throw new FeteError('INVALID_OPTIONS', 'createFete({ bus: { nats } }) needs the @nats-io/transport-node package (an optional peer dependency of fete): npm install @nats-io/transport-node', {
      cause: err,
    });
  }
}

/** The servers `option` names, comma-separated, for messages and log lines. */
export function natsServers(option: NatsOption): string {
  const given = typeof option === 'string' || Array.isArray(option) ? option : option.servers;
  return [given ?? 'localhost:4222'].flat().join(',');
}

/** One attempt to connect (once connected, the client reconnects by itself for ever).
 * @throws FeteError NETWORK when NATS cannot be reached; INVALID_OPTIONS without the package or
 * when the client refuses the options themselves (a malformed server URL: no retry will help). */
export async function connectNats(option: NatsOption, name: string, mod?: NatsModule): Promise<NatsConnection> {
  const nats = mod ?? (await loadNats());
  const given = (typeof option === 'string' || Array.isArray(option) ? { servers: option } : option) as NodeConnectionOptions;
  try {
    return await nats.connect({
      name,
      // Keep trying for ever: the bus is an optimisation over the store, which covers any outage.
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      ...given,
      noEcho: true,
    });
  } catch (err) {
    if (err instanceof TypeError || (err as Error)?.name === 'InvalidArgumentError')
      throw new FeteError('INVALID_OPTIONS', `bus.nats: the NATS client refused the options: ${(err as Error).message}`, { cause: err });
    throw new FeteError('NETWORK', `bus: cannot connect to NATS at ${JSON.stringify(natsServers(option))}: ${(err as Error).message}`, { cause: err });
  }
}
