// The server's public types. Vocabulary (see DESIGN.md, kept identical in code):
// - event / envelope: one emitted fact, with `seq` once appended to the store's log.
// - listener: a named handler of a topic or pattern (`target`); (target, name) is unique.
// - delivery: one (event, durable listener) pair in the store, with its own attempts, lease,
//   backoff and dead letter. Its `id` is what `fete.retry(id)` takes.
// - attempt: one run of a listener's handler for a delivery (1-based in `ctx.attempt`).
// - lease: a claim on a delivery by a worker: a token plus a deadline, extended by heartbeats.
//   Only the current token can complete or fail a delivery.
// - dead letter: a delivery whose attempts are used up (state `dead`).
// - log: the ordered, durable sequence of envelopes (log/event-log.ts `EventLog`: the store's log,
//   or the in-memory one of `dispatch: 'inline'`), with an epoch.
// - epoch: the log's identity, made once per store (003_epoch.sql) or per in-memory log.
// - cursor: a position in one log, `<epoch>:<seq>` (shared/cursor.ts), opaque to clients; a bare
//   seq means the current log's.
// - follow: reading a log after a cursor for a pattern, page by page, then live (log/follow.ts);
//   yields gap notices: `reset` (another epoch), `ahead` (beyond the head), `pruned` (retention).
// - ingress: the one admission path of an emit from any door (socket, HTTP, server) to an append.
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
import type { LogView } from './log/event-log.js';
import type { EmitResult, EmitResultOf, LatestResult, LoggedResult, VolatileResult } from './emit-result.js';

export type { EmitResult, EmitResultOf, LatestResult, LoggedResult, VolatileResult };
import type { QueryResult } from './store/driver.js';

export interface EmitOptions {
  /** The event id (a UUID). A repeated id appends nothing. @default a new UUIDv7 */
  id?: string;
  /** Deduplicates emits by this key instead of the id (sets the `idempotency-key` header). */
  idempotencyKey?: string;
  /** String headers carried with the event (user properties...). */
  headers?: Record<string, string>;
  /** Durable deliveries of this event become claimable this many ms after the emit (the event
   * itself is in the log at once: browsers see it if its topic is exposed). Not with `runAt`.
   * Under inline dispatch: a timer. @default 0 */
  delayMs?: number;
  /** Durable deliveries of this event become claimable at this time (a Date, an ISO string or
   * epoch ms); a time in the past means at once. Not with `delayMs`. @default now */
  runAt?: Date | string | number;
  /** The event's ordering key for every durable listener that has no `orderBy` of its own:
   * deliveries with the same key run one at a time, in seq order (see ListenerOptions.orderBy). */
  orderKey?: string;
  /** The event's tenant (ids and idempotency keys are unique per tenant; only the tenant's
   * principals receive it). @default the current tenant: a listener's event's, or the default '' */
  tenant?: string;
}


/** One element of `emitMany`: a topic, its payload, and the emit options. */
export type EmitItem<C extends TopicCatalog> = {
  [K in keyof C]: { topic: C[K]; payload: InputOf<C[K]> } & EmitOptions;
}[keyof C];

/** The results of `emitMany(items)`, one per item, in order: each by its topic (EmitResultOf). */
export type EmitResultsOf<I extends ReadonlyArray<{ topic: unknown }>> = { -readonly [K in keyof I]: EmitResultOf<I[K]['topic']> };

/** Emits one event of topic `T`; resolves with its result by the topic's delivery (EmitResultOf:
 * a `seq` for a log topic, a `version` for a latest one, neither for a volatile one). */
export type EmitFn<C extends TopicCatalog> = <T extends TopicsOf<C>>(topic: T, payload: InputOf<T>, options?: EmitOptions) => Promise<EmitResultOf<T>>;

/** Emits one event of topic `T` with a transaction that commits later (a command's `ctx.emit`):
 * resolves with the event id only, since it has no seq or version before the commit. */
export type DeferredEmitFn<C extends TopicCatalog> = <T extends TopicsOf<C>>(topic: T, payload: InputOf<T>, options?: EmitOptions) => Promise<{ id: string }>;

/** SQL access inside a transaction: the app's own tables, on fete's store connection. */
export interface TxQuery {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
}

/** What `fete.transaction(fn)` hands to `fn`: queries and emits that commit together. */
export interface FeteTransaction<C extends TopicCatalog> extends TxQuery {
  emit: EmitFn<C>;
  emitMany<const I extends ReadonlyArray<EmitItem<C>>>(items: I): Promise<EmitResultsOf<I>>;
}

/** How a fete runs listeners (its `dispatch` option); listener contexts differ by it (`ctx.tx`). */
export type DispatchMode = 'durable' | 'inline';

interface ListenerContextBase<C extends TopicCatalog, E extends Envelope> {
  /** The event, with its seq, headers and captured context. */
  envelope: E;
  /** 1 for the first attempt. */
  attempt: number;
  /** Aborted when the attempt times out (reason: FeteError TIMEOUT), its lease is lost
   * (LEASE_LOST) or fete stops without draining (CLOSED). */
  signal: AbortSignal;
  /** Emits that commit with this attempt's success: a failed or retried attempt never leaves
   * them behind, a completed one never loses them (durable: in the attempt's transaction;
   * inline: in the in-memory log's transaction, handed to listeners only on success). */
  emit: EmitFn<C>;
  /** The values context codecs captured at emit (also restored as the current async context). */
  context: Record<string, unknown>;
}

/** What a listener's handler gets besides the payload. `tx` exists where there is a store: under
 * `dispatch: 'inline'` it is absent from the type (and undefined), not a runtime refusal. */
export type ListenerContext<C extends TopicCatalog, E extends Envelope = Envelope, D extends DispatchMode = 'durable'> = ListenerContextBase<C, E> &
  (D extends 'inline'
    ? { /** No store under `dispatch: 'inline'`: use `ctx.emit`, which commits with the attempt. */ tx?: undefined }
    : {
        /** The attempt's transaction on the store: writes commit atomically with the completion
         * (durable listeners) or with the attempt's success (non-durable ones), and vanish if it
         * fails or the lease was lost. Opened on first use. */
        tx: TxQuery;
      });

export type Handler<C extends TopicCatalog, P, E extends Envelope, D extends DispatchMode = 'durable'> = (payload: P, ctx: ListenerContext<C, E, D>) => unknown;
export type TopicHandler<C extends TopicCatalog, T extends AnyTopic, D extends DispatchMode = 'durable'> = Handler<C, PayloadOf<T>, EnvelopeOf<T>, D>;
export type PatternHandler<C extends TopicCatalog, P extends string, D extends DispatchMode = 'durable'> = Handler<
  C,
  PatternEvent<C, P>['payload'],
  PatternEvent<C, P> extends Envelope ? PatternEvent<C, P> : Envelope,
  D
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
  /** No process has registered or heartbeat it for `listeners.orphanAfterMs`: nobody runs its
   * backlog, and (by default) retention no longer keeps events for it. Retire it, or deploy it. */
  orphaned: boolean;
  /** Retired (`fete.listeners.retire` or taken over by `replaces`): only its dead letters remain. */
  retired: boolean;
  /** When a process last vouched for it (durable listeners; ISO time). */
  seenAt?: string;
}

export interface TopicStats extends BacklogCounts {
  topic: string;
}

export interface FeteStats {
  listeners: ListenerStats[];
  topics: TopicStats[];
  /** The highest seq in the log. */
  headSeq: number;
  /** Schedules in the store (or this process, inline), with last tick, last run and next run. */
  schedules?: import('./schedule/scheduler.js').ScheduleStats[];
  /** With the NATS bus (`bus` option): whether this node is on NATS (`connected`), on the
   * PostgreSQL fallback (`degraded`) or closed (`down`), since when, and how often it fell back. */
  bus?: import('./bus/event-bus.js').BusStatus;
}

/** Attempt outcomes in this process since it started. */
export interface OutcomeCounts {
  /** Attempts whose handler succeeded and whose completion was committed (or handed to the group
   * commit, which drops it only if the lease was lost meanwhile). */
  completed: number;
  /** Attempts that failed (threw, rejected, timed out) and were scheduled to run again. */
  retried: number;
  /** Attempts that failed with no attempt left: the delivery became a dead letter. */
  dead: number;
}

export interface ListenerOutcomes extends OutcomeCounts {
  target: string;
  name: string;
  durable: boolean;
}

/** The durable dispatcher of a process: 'off' (no worker role, or `dispatch: 'inline'`), 'idle'
 * (created, `start()` not called or not done yet), 'running', 'stopping' (draining), 'stopped'. */
export type DispatcherState = 'off' | 'idle' | 'running' | 'stopping' | 'stopped';

/** What `fete.workerStatus()` reports about this process (no store query). */
export interface WorkerStatus {
  /** `fete.start()` was called in this process. */
  started: boolean;
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
 * What the realtime fanout and HTTP layers build on (`fete.log`): the log's reads, positions and
 * notifications (log/event-log.ts `LogView`), and appends of envelopes built elsewhere.
 * Internal: not part of the stable API.
 * @internal
 */
export interface FeteLog extends LogView {
  /** Appends envelopes a client door of ingress admitted (server/ingress/admit-client.ts): server
   * headers and context are stamped here (the client's are not trusted); nothing is validated again.
   * Envelopes of `volatile` and `latest` topics take their own route (ingress/emit-route.ts):
   * published, or upserted and published, with seq 0. */
  append(envelopes: readonly Envelope[]): Promise<AppendOutcome[]>;
}
