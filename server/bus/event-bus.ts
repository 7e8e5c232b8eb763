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
}

export interface ResolvedBusOptions {
  nats: NatsOption;
  prefix: string;
  pollIntervalMs: number;
  gapReadDelayMs: number;
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
  /** A live channel (volatile, latest, presence messages) on the bus's connection; closed with it. */
  liveChannel(): LiveChannel;
  /** Events and notices published, publishes that failed. */
  stats(): { published: number; notices: number; publishFailures: number };
  close(): Promise<void>;
}
