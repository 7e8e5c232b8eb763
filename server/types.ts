// The server's public types. Vocabulary (see DESIGN.md, kept identical in code):
// - event / envelope: one emitted fact, with `seq` once appended to the store's log.
// - listener: a named handler of a topic or pattern (`target`); (target, name) is unique.
// - delivery: one (event, durable listener) pair in the store, with its own attempts, lease,
//   backoff and dead letter. Its `id` is what `fete.retry(id)` takes.
// - attempt: one run of a listener's handler for a delivery (1-based in `ctx.attempt`).
// - lease: a claim on a delivery by a worker: a token plus a deadline, extended by heartbeats.
//   Only the current token can complete or fail a delivery.
// - dead letter: a delivery whose attempts are used up (state `dead`).
import type {
  AnyTopic,
  Envelope,
  EnvelopeOf,
  InputOf,
  PatternEvent,
  PayloadOf,
  TopicCatalog,
  TopicsOf,
} from '../shared/index.js';
import type { QueryResult } from './store/driver.js';
import type { ListenerOutcomes, OutcomeCounts } from './delivery-outcomes.js';

export interface EmitOptions {
  /** The event id (a UUID). A repeated id appends nothing. @default a new UUIDv7 */
  id?: string;
  /** Deduplicates emits by this key instead of the id (sets the `idempotency-key` header). */
  idempotencyKey?: string;
  /** String headers carried with the event (user properties...). */
  headers?: Record<string, string>;
  /** The event's tenant (ids and idempotency keys are unique per tenant; only the tenant's
   * principals receive it). @default the current tenant: a listener's event's, or the default '' */
  tenant?: string;
}

export interface EmitResult {
  /** The stored event's id (the first emit's id when this one was a duplicate). */
  id: string;
  /** The event's offset in the log. */
  seq: number;
  /** True when the id or idempotency key was already appended: nothing was appended or run. */
  duplicate: boolean;
}

/** One element of `emitMany`: a topic, its payload, and the emit options. */
export type EmitItem<C extends TopicCatalog> = {
  [K in keyof C]: { topic: C[K]; payload: InputOf<C[K]> } & EmitOptions;
}[keyof C];

export type EmitFn<C extends TopicCatalog> = <T extends TopicsOf<C>>(topic: T, payload: InputOf<T>, options?: EmitOptions) => Promise<EmitResult>;

/** SQL access inside a transaction: the app's own tables, on fete's store connection. */
export interface TxQuery {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
}

/** What `fete.transaction(fn)` hands to `fn`: queries and emits that commit together. */
export interface FeteTransaction<C extends TopicCatalog> extends TxQuery {
  emit: EmitFn<C>;
  emitMany(items: ReadonlyArray<EmitItem<C>>): Promise<EmitResult[]>;
}

export interface ListenerContext<C extends TopicCatalog, E extends Envelope = Envelope> {
  /** The event, with its seq, headers and captured context. */
  envelope: E;
  /** 1 for the first attempt. */
  attempt: number;
  /** Aborted when the attempt times out (reason: FeteError TIMEOUT), its lease is lost
   * (LEASE_LOST) or fete stops without draining (CLOSED). */
  signal: AbortSignal;
  /** Emits that commit with this attempt's completion: a failed or retried attempt never leaves
   * them behind, a completed one never loses them. Under inline dispatch: emitted after success. */
  emit: EmitFn<C>;
  /** The values context codecs captured at emit (also restored as the current async context). */
  context: Record<string, unknown>;
  /** The attempt's transaction on the store (durable only): writes commit atomically with the
   * completion, and vanish if the lease was lost. Opened on first use. */
  tx: TxQuery;
}

export type Handler<C extends TopicCatalog, P, E extends Envelope> = (payload: P, ctx: ListenerContext<C, E>) => unknown;
export type TopicHandler<C extends TopicCatalog, T extends AnyTopic> = Handler<C, PayloadOf<T>, EnvelopeOf<T>>;
export type PatternHandler<C extends TopicCatalog, P extends string> = Handler<
  C,
  PatternEvent<C, P>['payload'],
  PatternEvent<C, P> extends Envelope ? PatternEvent<C, P> : Envelope
>;

export interface BacklogCounts {
  /** Waiting for a first attempt. */
  pending: number;
  /** Being attempted (leased). */
  running: number;
  /** Failed at least once, waiting for the next attempt. */
  retrying: number;
  /** Dead letters. */
  dead: number;
  /** How long the oldest due delivery has waited, in ms (0 when none). */
  oldestPendingAgeMs: number;
}

export interface ListenerStats extends BacklogCounts {
  target: string;
  name: string;
  durable: boolean;
  /** Registered in this process (a durable listener may be recorded by other processes only). */
  local: boolean;
}

export interface TopicStats extends BacklogCounts {
  topic: string;
}

export interface FeteStats {
  listeners: ListenerStats[];
  topics: TopicStats[];
  /** The highest seq in the log. */
  headSeq: number;
}

/** The durable dispatcher of a process: 'off' (no worker role, or `dispatch: 'inline'`), 'idle'
 * (created, `start()` not called or not done yet), 'running', 'stopping' (draining), 'stopped'. */
export type DispatcherState = 'off' | 'idle' | 'running' | 'stopping' | 'stopped';

/** What `fete.workerStatus()` reports about this process (no store query). */
export interface WorkerStatus {
  dispatcher: DispatcherState;
  /** Listeners registered in this process, durable and not. */
  listeners: number;
  durableListeners: number;
  /** How this process's attempts ended since it started, over all listeners. */
  outcomes: OutcomeCounts;
  byListener: ListenerOutcomes[];
}

export interface DeadLetter {
  /** The delivery id: pass it to `fete.retry`. */
  id: number;
  listener: { target: string; name: string };
  attempts: number;
  lastError: string | null;
  failedAt: string;
  envelope: Envelope;
}

export interface DeadLetterQuery {
  /** Only ids greater than this (paging). @default 0 */
  after?: number;
  /** @default 100 */
  limit?: number;
  /** Only this listener name. */
  listener?: string;
}

export interface StopOptions {
  /** true: running attempts finish and are recorded. false: they are aborted (CLOSED) and their
   * deliveries released to run again. Claimed work not started is released either way. @default true */
  drain?: boolean;
}

/** Per-envelope outcome of appending envelopes that came from outside (wire, HTTP). */
export type AppendOutcome = ({ ok: true } & EmitResult) | { ok: false; id: string; error: import('../shared/index.js').FeteError };

/**
 * What the realtime fanout and HTTP layers build on. Internal: not part of the stable API.
 * @internal
 */
export interface FeteLog {
  /** Reads on from `after` in seq order, never past a seq that may still commit (see
   * log-reader.ts): `events` are those matching `pattern`, `cursor` is how far the log was read
   * (matching or not); resume from it. `limit` bounds the events scanned. @default limit 500 */
  read(after: number, options?: { pattern?: string; limit?: number }): Promise<{ events: Envelope[]; cursor: number }>;
  /** The highest seq appended. */
  head(): Promise<number>;
  /** Called after appends in any process (NOTIFY) with the new head seq; with undefined when
   * notifications may have been missed (a reconnect): read again from your cursor. */
  onAppend(fn: (headSeq: number | undefined) => void): () => void;
  /** Topics whose events up to `through` may have been pruned by retention, for `through > after`:
   * a resume from `after` on a pattern matching such a topic has a gap. */
  pruned(after: number): Promise<Array<{ topic: string; through: number }>>;
  /** Called right after an append of this process commits, with the events it appended (seq set,
   * duplicates left out), as stored. Appends of other processes come through `onAppend` only. */
  onCommit(fn: (events: readonly Envelope[]) => void): () => void;
  /** Validates and appends envelopes built elsewhere (browser emits): topic, payload and subject
   * are checked, context is captured here (the client's is not trusted). */
  append(envelopes: readonly Envelope[]): Promise<AppendOutcome[]>;
}
