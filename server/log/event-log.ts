// The event log as the rest of the server sees it: one interface, two implementations (the store's
// log, store-log.ts, and the in-memory log of `dispatch: 'inline'`, memory-log.ts), each owning
// its hooks. Readers follow it through follow.ts; writers append and then report the commit.
import type { Envelope } from '../../shared/index.js';
import type { LoggedResult } from '../emit-result.js';
import type { Queryable } from '../store/driver.js';
import type { DeliveryPlan, TakenDelivery } from '../store/event-queries.js';

/** What appending gives each event (server/emit-result.ts). */
export type { LoggedResult };

/** One read of the log: matching events with `after < seq <= cursor`, in seq order. */
export interface LogPage {
  events: Envelope[];
  /** Everything up to here has been read (matching or not): resume from it. */
  cursor: number;
}

/** What readers use (fanout, SSE, `fete.follow`, the inspector): reads, positions, notifications. */
export interface LogView {
  /** The log's identity, made once per store (003_epoch.sql) or per in-memory log. */
  readonly epoch: string;
  /** Reads on from `after` in seq order, never past a seq that may still commit (see
   * store/log-reader.ts). `limit` bounds the events scanned. @default limit 500 */
  read(after: number, options?: { pattern?: string; limit?: number }): Promise<LogPage>;
  /** The highest seq committed (0 for an empty log). */
  head(): Promise<number>;
  /** The highest seq this log ever handed out, committed or not: a cursor beyond it is not one of
   * this log's (`ahead`). */
  highWater(): Promise<number>;
  /** The highest seq past `after` up to which events matching `pattern` (all when undefined) may
   * have been removed (retention, or the in-memory log's bound); undefined when none were. */
  prunedThrough(after: number, pattern?: string): Promise<number | undefined>;
  /** Per-topic prune watermarks past `after` (empty for the in-memory log, which prunes by count). */
  pruned(after: number): Promise<Array<{ topic: string; through: number }>>;
  /** Called after appends in any process with the new head seq; with undefined when notifications
   * may have been missed (a reconnect): read again from your cursor. */
  onAppend(fn: (headSeq: number | undefined) => void): () => void;
  /** Called right after an append of this process commits, with the events it appended (seq set,
   * duplicates left out), as stored. */
  onCommit(fn: (events: readonly Envelope[]) => void): () => void;
}

/** Where an append runs: in a transaction (`q`), and whether idle local listeners claim in it. */
export interface AppendScope {
  /** The transaction to append in; the log's own connection (autocommit) when undefined. */
  q?: Queryable | undefined;
  /** Listeners whose deliveries of these events are claimed in the append (durable store only). */
  take?: { listenerIds: number[]; leaseMs: number } | undefined;
  /** Receives the claimed deliveries. */
  taken?: TakenDelivery[] | undefined;
  /** Per envelope: when its deliveries are due and their ordering keys (dispatch/delivery-plan.ts). */
  plans?: readonly (DeliveryPlan | undefined)[] | undefined;
}

/** The writer's side: appends, transactions and the commit report. */
export interface EventLog extends LogView {
  /** Whether it is the store's log (durable listeners, SQL transactions) or the in-memory one. */
  readonly durable: boolean;
  /** Appends envelopes built and validated by the server. A repeated id or idempotency key appends
   * nothing and returns the first append's seq. Store faults: STORE_UNAVAILABLE. */
  append(envelopes: readonly Envelope[], scope?: AppendScope): Promise<LoggedResult[]>;
  /** Runs `fn` in one transaction (`q` undefined for the in-memory log, where a failure forgets
   * what `appended()` lists instead). */
  transaction<R>(fn: (q: Queryable | undefined) => Promise<R>, appended: () => readonly Envelope[]): Promise<R>;
  /** Reports a commit: runs the commit hooks (and, in memory, the append hooks). */
  committed(events: readonly Envelope[]): void;
  /** Drops every hook and stops listening for notifications. */
  close(): Promise<void>;
}
