// Opens the bus's NATS connection. `@nats-io/transport-node` is an optional peer dependency: it is
// imported here, when `createFete({ bus: { nats } })` asks for it, never by `fete/server` itself,
// and an app without it gets a clear INVALID_OPTIONS naming the package.
import type { NatsConnection, NodeConnectionOptions } from '@nats-io/transport-node';
import { FeteError } from '../../shared/index.js';
import type { NatsOption } from './event-bus.js';
import { natsAddresses, probeNats } from './nats-probe.js';

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

/** The bound of one attempt when the caller gives none (`bus.connectTimeoutMs`'s default). */
export const CONNECT_TIMEOUT_MS = 2000;
/** How often the client pings NATS (unless the options give `pingInterval`): a PING and a PONG of
 * a few bytes per connection every 5 s. */
export const PING_INTERVAL_MS = 5000;

/** One attempt to connect, taking at most `timeoutMs` (once connected, the client reconnects by
 * itself for ever).
 *
 * The bound is ours, not only the client's: its `timeout` (set to `timeoutMs` unless the options
 * give one) is per server address and handshake, so a list of several blackholed servers would
 * take that much per server; `waitOnFirstConnect` is forced off (the bus retries itself, with a
 * backoff that `close` can stop). The client is asked to connect only once a server said INFO to
 * a probe of ours (nats-probe.ts), because the client leaves a socket open behind a first
 * connect whose handshake times out. An attempt still under way when the bound passes goes on alone (it ends within
 * the client's per-server timeouts) and closes the connection it gets, if any.
 * @throws FeteError NETWORK when NATS cannot be reached or does not answer within `timeoutMs`;
 * INVALID_OPTIONS without the package or when the client refuses the options themselves (a
 * malformed server URL: no retry will help). */
export async function connectNats(option: NatsOption, name: string, mod?: NatsModule, timeoutMs = CONNECT_TIMEOUT_MS): Promise<NatsConnection> {
  const nats = mod ?? (await loadNats());
  const given = (typeof option === 'string' || Array.isArray(option) ? { servers: option } : option) as NodeConnectionOptions;
  const where = JSON.stringify(natsServers(option));
  const silent = () => new FeteError('NETWORK', `bus: NATS at ${where} did not answer within ${timeoutMs} ms (bus.connectTimeoutMs)`, { details: { servers: natsServers(option), timeoutMs } });
  const deadline = Date.now() + timeoutMs;
  const addresses = natsAddresses(given);
  if (addresses) {
    const tlsFirst = (given.tls as { handshakeFirst?: boolean } | null | undefined)?.handshakeFirst === true;
    const probe = await probeNats(addresses, timeoutMs, !tlsFirst);
    if (probe.outcome === 'silent') throw silent();
    if (probe.outcome === 'failed') throw refused(probe.error, where);
  }
  let attempt: Promise<NatsConnection>;
  try {
    attempt = nats.connect({
      name,
      // Keep trying for ever: the bus is an optimisation over the store, which covers any outage.
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      timeout: timeoutMs,
      // A connection that goes silent without a reset (a partition, a blackholed route) is only
      // noticed by unanswered pings: every PING_INTERVAL_MS, stale at the third unanswered tick
      // (10 to 15 s) instead of the client's default of minutes (2 min, 2 out).
      pingInterval: PING_INTERVAL_MS,
      maxPingOut: 2,
      ...given,
      noEcho: true,
      waitOnFirstConnect: false,
    });
  } catch (err) {
    throw refused(err, where);
  }
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), Math.max(0, deadline - Date.now()))));
  try {
    const first = await Promise.race([attempt, late]);
    if (first === 'late') {
      void attempt.then((nc) => nc.close()).catch(() => undefined);
      throw silent();
    }
    return first;
  } catch (err) {
    throw refused(err, where, timeoutMs);
  } finally {
    clearTimeout(timer);
  }
}

/** The client's failure as a FeteError (a FeteError passes through). */
function refused(err: unknown, where: string, timeoutMs?: number): FeteError {
  if (err instanceof FeteError) return err;
  if (err instanceof TypeError || (err as Error)?.name === 'InvalidArgumentError')
    return new FeteError('INVALID_OPTIONS', `bus.nats: the NATS client refused the options: ${(err as Error).message}`, { cause: err });
  // The client's own per-server handshake timeout.
  if ((err as Error)?.name === 'TimeoutError' && timeoutMs !== undefined)
    return new FeteError('NETWORK', `bus: NATS at ${where} did not answer within ${timeoutMs} ms (bus.connectTimeoutMs)`, { cause: err });
  return new FeteError('NETWORK', `bus: cannot connect to NATS at ${where}: ${(err as Error).message}`, { cause: err });
}
