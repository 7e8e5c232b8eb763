// The bus as the rest of the server sees it (options, the EventBus a process holds, the view a
// fanout's tail follows), in types that name nothing of the NATS client: `fete/server`'s declarations
// stay valid for an app that does not install @nats-io/transport-node (an optional peer).
import type { SkippingLog } from '../log/follow.js';
import type { LogView } from '../log/event-log.js';
import type { LiveChannel } from './live-channel.js';

/** Connection options of @nats-io/transport-node (its `NodeConnectionOptions`: `servers`, `user`,
 * `pass`, `token`, `tls`, `authenticator`...), passed through as they are. */
export interface NatsConnectionOptions {
  servers?: string | string[];
  [option: string]: unknown;
}

/** Where the bus connects: a URL, several, or connection options. `noEcho` is always set (a
 * process never hears its own messages back). */
export type NatsOption = string | string[] | NatsConnectionOptions;

export interface BusOptions {
  /** The NATS server(s): a URL (`nats://127.0.0.1:4222`), several, or the connection options of
   * @nats-io/transport-node (`{ servers, user, pass, tls, ... }`). */
  nats: NatsOption;
  /** First token(s) of every subject the bus uses; the log's epoch follows. @default 'fete' */
  prefix?: string;
  /** How often a web node reads the log even when the bus is quiet (events committed by a process
   * that died before publishing them, or by one without the bus). With the bus it replaces
   * `attach({ pollIntervalMs })` for the fanout's tail (subscriptions' replays keep attach's).
   * @default 5000 */
  pollIntervalMs?: number;
  /** A seq missing before events already received (and no notice explains it) is read from the
   * log when the gap is still open this long after it was seen. @default 50 */
  gapReadDelayMs?: number;
  /** Whether `createFete` fails when NATS cannot be reached at start. By default (false) the node
   * starts on the PostgreSQL fallback (the log's NOTIFY and reads for durable events; the
   * PostgreSQL live channel for volatile, latest and presence messages), keeps trying NATS in the
   * background (backoff from 250 ms doubling to `retryMaxMs`, with jitter) and moves onto it once
   * it answers, with no gap and no duplicate. With `true`, createFete throws FeteError NETWORK
   * instead (also when NATS does not answer within `connectTimeoutMs`); outages after start are
   * survived either way. @default false */
  required?: boolean;
  /** The longest wait between two attempts to reach NATS before it was ever reached (later
   * reconnects follow the NATS client's `reconnectTimeWait`), in ms. @default 5000 */
  retryMaxMs?: number;
  /** How long one attempt to reach NATS may take, in ms: at createFete (which then goes on
   * degraded, or throws NETWORK with `required`), and at each background retry. It bounds the
   * whole attempt, however many servers are listed, and is also the client's per-server handshake
   * `timeout` (unless the NATS options give their own), so that a host that does not answer at all
   * (a blackholed address: the TCP SYN is dropped) costs this long, not the client's 20 s default.
   * The default is the Go client's connect timeout. @default 2000 */
  connectTimeoutMs?: number;
}

export interface ResolvedBusOptions {
  nats: NatsOption;
  prefix: string;
  pollIntervalMs: number;
  gapReadDelayMs: number;
  required: boolean;
  retryMaxMs: number;
  connectTimeoutMs: number;
}

/** Where this node's bus is:
 * - `connected`: on NATS (events and live messages between nodes travel there).
 * - `degraded`: NATS is unreachable; the node serves on the PostgreSQL fallback (durable events
 *   from the log's NOTIFY and reads, volatile/latest/presence on the PostgreSQL live channel) and
 *   keeps trying NATS.
 * - `down`: the bus is closed (fete stopped): nothing is sent or received on NATS and no
 *   reconnect is tried. */
export type BusState = 'connected' | 'degraded' | 'down';

/** `fete.stats().bus` and the `bus` block of the health route. */
export interface BusStatus {
  state: BusState;
  /** When the bus entered `state` (ISO 8601). */
  since: string;
  /** Times the node moved onto the PostgreSQL fallback since createFete (a start with NATS
   * unreachable counts as one). */
  fallbacks: number;
  /** Times the node moved (back) onto NATS, the first connection included. */
  recoveries: number;
  /** The last connection error, while not connected (undefined once connected). */
  lastError?: string | undefined;
  /** Other nodes that said, in the last few seconds, that they are on the PostgreSQL fallback
   * (cut off from NATS). While there is one, this node also sends its volatile, latest and
   * presence messages on the PostgreSQL live channel, so that they reach it. */
  peersOnFallback: number;
}

/** What one fanout's tail follows over the bus (bus/nats-tail.ts), and how it says what it wants. */
export interface BusTail extends SkippingLog {
  /** Asks for the events of `tenant` matching `pattern` (counted: one `unwant` per `want`). */
  want(pattern: string, tenant: string): void;
  unwant(pattern: string, tenant: string): void;
  /** The patterns with a subscription on the bus now. */
  readonly subscribed: readonly string[];
  stats(): { received: number; skipped: number; lost: number; reads: number };
  close(): void;
}

/** The bus of one process (`createFete({ bus })`). */
export interface EventBus {
  readonly options: ResolvedBusOptions;
  /** A new receiving view of `log` for one fanout's tail. */
  tail(log: LogView): BusTail;
  /** A live channel (volatile, latest, presence messages) on NATS while it is connected and on
   * `fallback` while it is not (bus/fallback-live-channel.ts); closed with the bus. */
  liveChannel(fallback: LiveChannel): LiveChannel;
  /** Events and notices published, publishes that failed. */
  stats(): { published: number; notices: number; publishFailures: number };
  /** Whether the bus is on NATS, on the PostgreSQL fallback or closed, since when, and how often
   * it fell back. */
  status(): BusStatus;
  close(): Promise<void>;
}
