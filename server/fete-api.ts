// The server's public interface, `Fete<C>`: what `createFete` returns (fete.ts implements it). In a
// file of its own so that the parts the composition root wires (fanout, HTTP) can name it without
// importing the root.
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AnyCommand, AnyQuery, AnyRequest, AnyTopic, CheckedPattern, Envelope, InputOf, MatchingTopics, PayloadOf, RequestInputOf, RequestOutputOf, SubscribeFrom, TopicCatalog, TopicsOf } from '../shared/index.js';
import type { ScheduleOptions, ScheduleTick } from './schedule/scheduler.js';
import type { ScheduleSpec } from './schedule/schedule-spec.js';
import type { RetireResult } from './store/listener-queries.js';
import type { WaitIdleOptions } from './wait-idle.js';
import type { CommandBus } from './commands/command-bus.js';
import type { ExecuteOptions, HandleOptions, RequestHandler } from './commands/types.js';
import type { ContextRegistry } from './context/context-registry.js';
import type { AttachOptions, FanoutHandle, FanoutStats } from './fanout/types.js';
import type { ExpressOptions, FeteRouter } from './http/index.js';
import type { FollowItem } from './log/follow.js';
import type { ListenerOptions } from './options.js';
import type { PruneReport } from './retention-job.js';
import type { Security } from './security/security.js';
import type { LiveHub } from './live/live-hub.js';
import type { ClearLatestResult } from './live/latest-clears.js';
import type { ParamsOf, TemplateOf } from '../shared/index.js';
import type { NodeTail, NodeTailOptions } from './fanout/node-tail.js';
import type { PresenceChange, PresenceMember } from '../shared/index.js';
import type { PresenceObserver } from './presence/presence-observer.js';
import type { PresenceQueryOptions, PresenceService } from './presence/presence-service.js';
import type {
  DeadLetter,
  DeadLetterQuery,
  DispatchMode,
  EmitFn,
  EmitItem,
  EmitResultsOf,
  FeteLog,
  FeteStats,
  FeteTransaction,
  ListenerContext,
  PatternHandler,
  StopOptions,
  TopicHandler,
  WorkerStatus,
} from './types.js';

/** The options argument of `fete.on(topic, ...)`: optional, except for a topic known to be outside
 * the log (`volatile`, `latest`) under durable dispatch, where `{ durable: false }` is required. */
export type ListenerOptionsArg<T extends AnyTopic, D extends DispatchMode> = 'log' extends T['delivery']
  ? [options?: ListenerOptions<PayloadOf<T>>]
  : D extends 'inline'
    ? [options?: ListenerOptions<PayloadOf<T>>]
    : [options: ListenerOptions<PayloadOf<T>> & { durable: false }];

/** Options of `fete.follow`. */
export interface FollowOptions {
  /** 'latest' (only new events), 'earliest' (the whole retained log), or a cursor (`page.cursor`
   * of an earlier page; a bare seq is a seq of this log). @default 'latest' */
  from?: SubscribeFrom;
  /** Only this tenant's events ('' is the default tenant), as a browser of that tenant would get
   * them (security/tenant.ts). @default every tenant (server code is trusted) */
  tenant?: string;
  /** Ends the iteration (it returns). */
  signal?: AbortSignal;
}

export interface RetireOptions {
  /** Only the listener of this topic or pattern. @default every listener with the name */
  target?: AnyTopic | string;
  /** Delete its dead letters too (and the listener row). @default false: kept for inspection */
  dropDead?: boolean;
}

/** `fete.listeners`: the durable listeners in the store. */
export interface ListenerAdmin {
  /** Retires a listener: no new deliveries, pending and running ones removed, dead letters kept
   * unless `dropDead`. Also stops it in this process if registered here. Another process that
   * registers it again (a deploy still running the old code) brings it back. */
  retire(name: string, options?: RetireOptions): Promise<RetireResult>;
}

/** A fete server. `D` is its dispatch mode (from `createFete`'s `dispatch`): under 'inline',
 * listener contexts have no `tx`. */
/** The `latest` topics of a catalogue (not known to have another delivery). */
export type LatestTopicsOf<C extends TopicCatalog> = { [K in keyof C]: 'latest' extends C[K]['delivery'] ? C[K] : never }[keyof C];
/** The template parameters that name one subject of a topic: `{ orderId: 'o-17' }`. */
export type SubjectParams<T extends AnyTopic> = { readonly [P in ParamsOf<TemplateOf<T>>]: string | number };

export interface Fete<C extends TopicCatalog, D extends DispatchMode = 'durable'> {
  /** The catalogue this server was created with. */
  readonly topics: C;
  /** Context codecs: `fete.contexts.register({ name, capture, restore })`. */
  readonly contexts: ContextRegistry;
  /** Reads and tails of the log, for the fanout and HTTP layers. @internal */
  readonly log: FeteLog;
  /** The resolved `security` option, shared by every door (`attach`, `express`). @internal */
  readonly security: Security;
  /** Where the doors receive `volatile` and `latest` events (live/live-hub.ts). @internal */
  readonly live: LiveHub;
  /** The node's one live tail of the log, shared by every browser door (Socket.IO subscriptions,
   * SSE streams): made at the first call with its options (a later call may only lower
   * `pollIntervalMs`), closed by `stop()`. Throws CLOSED once stopped. @internal */
  browserTail(options: NodeTailOptions): NodeTail;
  /**
   * The current values of `latest` topics whose subjects match `pattern`, in subject order: each
   * envelope with its `version` (no seq). `tenant`: that tenant's values ('' is the default
   * tenant). @default the current tenant (a listener's event's, or ''). Throws INVALID_PATTERN.
   */
  latest(pattern: string, options?: { tenant?: string }): Promise<Envelope[]>;
  /**
   * Removes the current value of one subject of a `latest` topic: `params` fill its template
   * (`{ orderId: 'o-17' }` for `orders.{orderId}.eta`). Every current subscriber of a matching
   * pattern (Socket.IO and SSE, in every process of the deployment) is told (`clr` / `event:
   * cleared`, reason 'cleared'), and new subscribers no longer get it. A subject without a value
   * is a no-op (`{ cleared: false }`). `tenant`: that tenant's value ('' is the default tenant).
   * @default the current tenant (a listener's event's, or ''). Throws INVALID_OPTIONS (not a
   * `latest` topic of the catalogue), INVALID_PAYLOAD (a missing or bad parameter), a store fault.
   */
  clearLatest<T extends LatestTopicsOf<C>>(topic: T, params: SubjectParams<T>, options?: { tenant?: string }): Promise<ClearLatestResult>;
  /**
   * Follows the log for `pattern` (server-side consumers: projections, webhooks): event pages in
   * seq order, then live, forever, with a gap notice wherever the log cannot cover the resume
   * (`reset`: a cursor of another log; `ahead`: beyond this log's head; `pruned`: removed by
   * retention). `from`: 'latest' (default), 'earliest', or a cursor (`page.cursor` of an earlier
   * page; a bare seq means this log's). `signal` ends the iteration. Pages without events are left
   * out. Reads the log only: `volatile` events are never in it, and `latest` values are read
   * with `fete.latest`. Throws INVALID_PATTERN, MALFORMED (a bad `from`), or a store fault from a read.
   */
  follow(pattern: string, options?: FollowOptions): AsyncIterable<FollowItem>;
  /** Registers a listener on a catalogue topic (durable by default). (topic, name) must be unique.
   * A `volatile` or `latest` topic takes only non-durable listeners (`{ durable: false }`, required
   * by the type under durable dispatch; INVALID_OPTIONS otherwise): they run in the emitting
   * process after the event is published, with in-memory retries. */
  on<T extends TopicsOf<C>>(topic: T, name: string, handler: TopicHandler<C, T, D>, ...options: ListenerOptionsArg<T, D>): void;
  /** Registers a listener on a subject pattern (`orders.*.status`, `orders.>`) or a topic's name.
   * A durable one receives the log topics it matches; a pattern that matches only `volatile` or
   * `latest` topics takes `{ durable: false }` (required by the type under durable dispatch). */
  on<const P extends string>(pattern: CheckedPattern<C, P>, name: string, handler: PatternHandler<C, P, D>, ...options: ListenerOptionsArg<MatchingTopics<C, P>, D>): void;
  /** Stops a listener in this process: it claims nothing more (claimed work not started is given
   * back), running attempts finish, and this process no longer vouches for it (see
   * `listeners.orphanAfterMs`). Its store row and backlog stay: `listeners.retire` removes them.
   * Resolves true if it was registered here. */
  off(topic: TopicsOf<C> | string, name: string): Promise<boolean>;
  /** Durable listeners in the store, whatever process registered them. */
  readonly listeners: ListenerAdmin;
  /** Drops a dead (or pending) delivery for good: unblocks its ordering key. NOT_FOUND if there is
   * no such dead or pending delivery (a running one cannot be skipped). Negative ids: in memory. */
  skip(deliveryId: number): Promise<void>;
  /** Resolves once no delivery is pending, running or due within `timeoutMs` (durable: the store
   * and this process; inline: this process), and no emit is in flight. Deliveries blocked behind
   * a dead letter of their ordering key, and those of orphaned listeners, do not count.
   * @throws FeteError TIMEOUT when work is still due or running after `timeoutMs` (@default 10_000) */
  waitIdle(options?: WaitIdleOptions): Promise<void>;
  /**
   * Declares recurring work. `spec`: a cron expression (`'*\/5 * * * *'`, or `{ cron, timezone }`),
   * `{ everyMs }`, or adaptive `{ minMs, maxMs, backoffFactor?, highDrift? }` (the handler returns
   * how many records it changed). `target`: a handler, run as a durable delivery (retries, dead
   * letters) of the schedule's tick, or `{ topic, payload }` (payload may be a function of the tick
   * time) to emit an event per tick. Exactly one run per tick across processes; worker processes
   * (and inline fetes) tick once started. @throws FeteError INVALID_OPTIONS (spec, name), CONFLICT
   */
  schedule<T extends TopicsOf<C>>(
    name: string,
    spec: ScheduleSpec,
    target: ((tick: ScheduleTick, ctx: ListenerContext<C, Envelope, D>) => unknown) | { topic: T; payload: InputOf<T> | ((tick: Date) => InputOf<T>) },
    options?: ScheduleOptions,
  ): void;
  /** Validates and appends one event; resolves with `{ id, seq, duplicate }` (LoggedResult). A
   * repeated id or idempotency key appends nothing (`duplicate: true`, the first emit's seq). A
   * `volatile` topic's event is published live instead and resolves `{ id, duplicate }`
   * (VolatileResult); a `latest` topic's is upserted as its subject's value and resolves
   * `{ id, duplicate, version }` (LatestResult): neither has a seq, they are in no log. The type
   * follows the topic (EmitResultOf). Rejects INVALID_PAYLOAD, UNKNOWN_TOPIC, TOO_LARGE, CLOSED,
   * STORE_UNAVAILABLE, and LIVE_TOO_LARGE when a live event does not fit the live channel
   * (PostgreSQL: under 8000 bytes). */
  emit: EmitFn<C>;
  /** Appends several events in one transaction: all or none (live ones: see `emit`; they are not
   * part of the log's transaction). Resolves with one result per item, in order, each typed by
   * its item's topic (EmitResultsOf). */
  emitMany<const I extends ReadonlyArray<EmitItem<C>>>(items: I): Promise<EmitResultsOf<I>>;
  /** Runs `fn` in one store transaction: `tx.query` (your tables) and `tx.emit` commit together. */
  transaction<R>(fn: (tx: FeteTransaction<C>) => Promise<R>): Promise<R>;
  /** Registers the one owner of a command or query: `handler(input, ctx)` with `ctx.tx`, `ctx.emit`
   * (commands), `ctx.principal`, `ctx.tenant`, `ctx.signal`, `ctx.reject(reason, message)`. With
   * `roles`, only processes running one of them run it; others forward it through the store.
   * Throws CONFLICT when the name already has an owner, INVALID_OPTIONS for a bad argument. */
  handle<R extends AnyRequest>(request: R, handler: RequestHandler<C, R>, options?: HandleOptions): void;
  /** Runs a command and resolves with its output (the output schema's output). Its writes and
   * emits commit together, only if the handler returns; the outcome is recorded per tenant and
   * `options.id`, so a call with an id already run returns the first outcome without running it.
   * Rejects INVALID_PAYLOAD (input), NO_HANDLER, REJECTED (`details.reason`), CONFLICT (id used
   * by another command), TIMEOUT, STORE_UNAVAILABLE, CLOSED, or INTERNAL (an unexpected throw,
   * kept as `cause`), or the FeteError the handler threw on purpose. */
  execute<K extends AnyCommand>(command: K, input: RequestInputOf<K>, options?: ExecuteOptions): Promise<RequestOutputOf<K>>;
  /** Runs a query in a read-only transaction and resolves with its output; rejects as `execute`. */
  query<Q extends AnyQuery>(query: Q, input: RequestInputOf<Q>, options?: Omit<ExecuteOptions, 'id'>): Promise<RequestOutputOf<Q>>;
  /** The recorded output of command `id` (any door ran it: server, Socket.IO, HTTP, a browser's
   * queued call), read as `options.principal` (default: the current principal, `runAs`) in its
   * tenant (or `options.tenant`). Rejects with the error the command was recorded with (REJECTED
   * with `details.reason`, ...), NOT_FOUND when no outcome is recorded for this principal and
   * tenant (never run, still running, past `commands.resultTtlMs`, run by another principal or
   * tenant, or, given `command`, a call of another command), MALFORMED for a non-UUID id. A
   * principal is told apart by its actor (its `id`, or itself when a string). */
  commandResult<K extends AnyCommand>(command: K, id: string, options?: Omit<ExecuteOptions, 'id'>): Promise<RequestOutputOf<K>>;
  commandResult(id: string, options?: Omit<ExecuteOptions, 'id'>): Promise<unknown>;
  /** The commands and queries of this fete, for the Socket.IO and HTTP doors. @internal */
  readonly commands: CommandBus;
  /** Mounts the realtime fanout (Socket.IO, namespace `/fete`) on `httpServer`: browsers subscribe
   * to the log by pattern and emit `clientEmit` topics. `stop()` closes it (not the HTTP server). */
  attach<P = unknown>(httpServer: HttpServer | HttpsServer, options?: AttachOptions<P>): FanoutHandle;
  /**
   * The members now of the subjects matching `pattern` (a subject, or a pattern), over every
   * process, for one tenant (`options.tenant`, default the current tenant, else ''). A member is
   * a principal (by `security.publicId`) with a connection subscribed to exactly that subject of a
   * topic declared `presence: true`. Throws InvalidPatternError, STORE_UNAVAILABLE, CLOSED.
   */
  presence(pattern: string, options?: PresenceQueryOptions): Promise<PresenceMember[]>;
  /** The members of `pattern`'s subjects kept current: `ready` resolves with them, then every
   * join, leave and update goes to `onChange` and to `for await (const change of observer)`;
   * `close()` ends it. Tenant as for `presence`. */
  observePresence(pattern: string, options?: PresenceQueryOptions & { onChange?: (change: PresenceChange) => void }): PresenceObserver;
  /** Presence of this fete, for the Socket.IO door. @internal */
  readonly presenceService: PresenceService;
  /** Counters of every attached fanout, summed (sockets, subscriptions, events sent, overflows...),
   * with the node tail's own (`eventsRouted`, `tailCursor`, `bus`) counted once: the tail is shared
   * by every fanout and SSE stream, and is there once either door was used. */
  fanoutStats(): FanoutStats;
  /** This process's workers: the dispatcher's state, the listeners registered here, and how their
   * attempts ended since start (completed, retried, dead). No store query (see `stats()`). */
  workerStatus(): WorkerStatus;
  /** HTTP emit, SSE stream, health, metrics, inspector: `app.use('/fete', fete.express())`. */
  express<P = unknown>(options?: ExpressOptions<P>): FeteRouter;
  /** Starts what `roles` ask for: the durable dispatcher for 'worker'. */
  start(): Promise<void>;
  /** Prunes the log now, per topic `retention` (what workers do every `retention.intervalMs`):
   * events past their topic's retention whose durable deliveries are all done. One report per
   * topic with a rule. Under `dispatch: 'inline'` there is no store and no log to prune. Also
   * prunes the removals of latest values older than `retention.removalsMs` (in memory too): one
   * report per latest topic that had some (`prunedThrough` undefined). */
  prune(): Promise<PruneReport[]>;
  /** Stops workers (draining by default) and closes the store. The instance is closed afterwards. */
  stop(options?: StopOptions): Promise<void>;
  /** Backlog per listener and topic. */
  stats(): Promise<FeteStats>;
  /** Writes and commits one row in the store (GET /health's write check); throws the store's
   * error (STORE_FAILED when no retry will help) when it cannot. Nothing to write when inline.
   * @internal */
  checkWrite(): Promise<void>;
  /** Dead letters, oldest first (negative ids: in-memory ones of non-durable listeners). */
  deadLetters(query?: DeadLetterQuery): Promise<DeadLetter[]>;
  /** Puts a dead letter back to pending with a fresh set of attempts; NOT_FOUND if it is not dead. */
  retry(deliveryId: number): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

