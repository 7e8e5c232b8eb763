// What a server-side emit resolves with, by the delivery of its topic: the log gives a `seq`, a
// latest value a `version`, a volatile event neither. The same three shapes go out on the wire
// (shared/protocol.ts EmitAckTaken) to browsers and HTTP callers (fanout/client-emit.ts); no
// result ever carries a seq that is no position of the log.
import type { ByDelivery } from '../shared/index.js';

/** An event of a `delivery: 'log'` topic, appended (or found: a duplicate). */
export interface LoggedResult {
  /** The stored event's id (the first emit's id when this one was a duplicate). */
  id: string;
  /** The event's offset in the log (a duplicate: the first emit's), a positive integer. */
  seq: number;
  /** True when the id or idempotency key was already appended: nothing was appended or run. */
  duplicate: boolean;
}

/** A value of a `delivery: 'latest'` topic: upserted as its subject's current value (or found). */
export interface LatestResult {
  id: string;
  /** True when the id was stored lately (a resend): nothing was stored or sent. */
  duplicate: boolean;
  /** The version the value got for its subject (1, 2, ...). A duplicate answers the version its id
   * got while the server still knows it (the process that stored it, for two minutes; any process
   * while it is still the current value). Absent when it is not known yet: `ctx.emit` of a
   * listener or command (sent when it commits) and `tx.emit` under `store: 'memory'` (stored at
   * the commit). */
  version?: number;
}

/** An event of a `delivery: 'volatile'` topic: sent live, stored nowhere. */
export interface VolatileResult {
  id: string;
  /** True when this process sent the id lately (a resend): not sent again. */
  duplicate: boolean;
}

/** What an emit resolves with: by topic delivery, see EmitResultOf. */
export type EmitResult = LoggedResult | LatestResult | VolatileResult;

/** The result of emitting topic `T`: LoggedResult for a log topic, LatestResult for a latest one,
 * VolatileResult for a volatile one (a union when `T` may be any of them). */
export type EmitResultOf<T> = ByDelivery<T, LoggedResult, LatestResult, VolatileResult>;
