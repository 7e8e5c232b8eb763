// createFete: the server's registry and emit path over a store. It opens (and migrates) the store,
// records durable listeners there, appends emits, runs non-durable listeners after commit, and on
// `start()` runs the durable dispatcher (worker role). See DESIGN.md "Durable dispatch".
import createDebug from 'debug';
import { type AnyTopic, type Envelope, FeteError, type TopicCatalog, isFeteError } from '../shared/index.js';
import { buildEnvelope, rebuildEnvelope } from './build-envelope.js';
import { type ContextRegistry, Contexts } from './context/context-registry.js';
import { principalCodec } from './context/principal.js';
import { traceCodec } from './context/trace.js';
import { Completer } from './dispatch/completer.js';
import { Dispatcher } from './dispatch/dispatcher.js';
import { type AttemptEmits, InlineDispatcher } from './dispatch/inline-dispatcher.js';
import { type StoreAttemptEmits, memoryAttemptEmits, storeAttemptEmits } from './dispatch/attempt-emits.js';
import { planDelivery } from './dispatch/delivery-plan.js';
import { MemoryLog } from './memory-log.js';
import { type FeteOptions, type ListenerOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { type AnyHandler, Registry, type RegisteredListener, listenerRecord } from './registry.js';
import { listDeadDeliveries, notifyWake, retryDeadDelivery } from './store/delivery-queries.js';
import type { Queryable } from './store/driver.js';
import { type TakenDelivery, appendEvents } from './store/event-queries.js';
import { LogReader } from './store/log-reader.js';
import { type RetireResult, retireListeners, skipDelivery, takeOverListener, upsertListener } from './store/listener-queries.js';
import { ListenerHeartbeat } from './listener-heartbeat.js';
import { type ScheduleHandler, type ScheduleOptions, type ScheduleTick, Scheduler, scheduleTopic } from './schedule/scheduler.js';
import type { ScheduleSpec } from './schedule/schedule-spec.js';
import { MemoryScheduleState } from './schedule/schedule-state.js';
import { StoreScheduleState } from './store/schedule-queries.js';
import { type WaitIdleOptions, waitIdle } from './wait-idle.js';
import { prunedAfter } from './store/retention-queries.js';
import { Notifier } from './store/notifier.js';
import { pgliteTxScope } from './store/pglite-driver.js';
import { type Store, openStore } from './store/open-store.js';
import { collectStats } from './stats.js';
import { DeliveryOutcomes, type Outcome } from './delivery-outcomes.js';
import { type PruneReport, RetentionJob } from './retention-job.js';
import { createFeteLog } from './fete-log.js';
import { attachFanout } from './fanout/attach.js';
import type { AttachOptions, FanoutHandle, FanoutStats } from './fanout/types.js';
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type {
  DeadLetter,
  DeadLetterQuery,
  EmitFn,
  EmitItem,
  EmitOptions,
  EmitResult,
  FeteLog,
  FeteStats,
  FeteTransaction,
  ListenerContext,
  PatternHandler,
  StopOptions,
  TopicHandler,
  DispatcherState,
  DispatchMode,
  WorkerStatus,
} from './types.js';
import type { InputOf, TopicsOf } from '../shared/index.js';
import { sumFanoutStats } from './fanout/fanout-stats.js';
import { type ExpressOptions, type FeteRouter, createExpressMiddleware } from './http/index.js';

const debug = createDebug('fete:server');

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
export interface Fete<C extends TopicCatalog, D extends DispatchMode = 'durable'> {
  /** The catalogue this server was created with. */
  readonly topics: C;
  /** Context codecs: `fete.contexts.register({ name, capture, restore })`. */
  readonly contexts: ContextRegistry;
  /** Reads and tails of the log, for the fanout and HTTP layers. @internal */
  readonly log: FeteLog;
  /** Registers a listener on a catalogue topic (durable by default). (topic, name) must be unique. */
  on<T extends TopicsOf<C>>(topic: T, name: string, handler: TopicHandler<C, T, D>, options?: ListenerOptions): void;
  /** Registers a listener on a subject pattern (`orders.*.status`, `orders.>`) or a topic's name. */
  on<const P extends string>(pattern: P, name: string, handler: PatternHandler<C, P, D>, options?: ListenerOptions): void;
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
  /** Validates and appends one event. A repeated id or idempotency key appends nothing. */
  emit: EmitFn<C>;
  /** Appends several events in one transaction: all or none. */
  emitMany(items: ReadonlyArray<EmitItem<C>>): Promise<EmitResult[]>;
  /** Runs `fn` in one store transaction: `tx.query` (your tables) and `tx.emit` commit together. */
  transaction<R>(fn: (tx: FeteTransaction<C>) => Promise<R>): Promise<R>;
  /** Mounts the realtime fanout (Socket.IO, namespace `/fete`) on `httpServer`: browsers subscribe
   * to the log by pattern and emit `clientEmit` topics. `stop()` closes it (not the HTTP server). */
  attach<P = unknown>(httpServer: HttpServer | HttpsServer, options?: AttachOptions<P>): FanoutHandle;
  /** Counters of every attached fanout, summed (sockets, subscriptions, events sent, overflows...). */
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
   * topic with a rule. Under `dispatch: 'inline'` there is no store and nothing to prune. */
  prune(): Promise<PruneReport[]>;
  /** Stops workers (draining by default) and closes the store. The instance is closed afterwards. */
  stop(options?: StopOptions): Promise<void>;
  /** Backlog per listener and topic. */
  stats(): Promise<FeteStats>;
  /** Dead letters, oldest first (negative ids: in-memory ones of non-durable listeners). */
  deadLetters(query?: DeadLetterQuery): Promise<DeadLetter[]>;
  /** Puts a dead letter back to pending with a fresh set of attempts; NOT_FOUND if it is not dead. */
  retry(deliveryId: number): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Opens the store (unless `dispatch: 'inline'`), applies migrations and returns the server. */
export async function createFete<const C extends TopicCatalog, const D extends DispatchMode = 'durable'>(
  options: FeteOptions<C> & { dispatch?: D },
): Promise<Fete<C, D>> {
  const resolved = resolveOptions(options);
  const store = resolved.dispatch === 'durable' ? await openStore(resolved.store, resolved.schema) : undefined;
  return new FeteServer(resolved, store) as unknown as Fete<C, D>;
}

class FeteServer {
  readonly topics: TopicCatalog;
  readonly contexts = new Contexts();
  readonly log: FeteLog;
  readonly #o: ResolvedOptions;
  readonly #registry: Registry;
  readonly #store: Store | undefined;
  readonly #memory: MemoryLog | undefined;
  readonly #inline: InlineDispatcher;
  readonly #dispatcher: Dispatcher | undefined;
  readonly #notifier: Notifier | undefined;
  readonly #reader: LogReader | undefined;
  readonly #unrecorded = new Set<RegisteredListener>();
  readonly #recording = new Map<RegisteredListener, Promise<void>>();
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #appendHooks = new Set<(head: number | undefined) => void>();
  readonly #commitHooks = new Set<(events: readonly Envelope[]) => void>();
  readonly #fanouts = new Set<FanoutHandle>();
  readonly #routers = new Set<FeteRouter>();
  readonly #outcomes = new DeliveryOutcomes();
  readonly #retention: RetentionJob | undefined;
  readonly #heartbeat: ListenerHeartbeat | undefined;
  readonly #scheduler: Scheduler;
  readonly listeners: ListenerAdmin;
  #dispatcherState: DispatcherState;
  #started: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #closed = false;

  constructor(o: ResolvedOptions, store: Store | undefined) {
    this.#o = o;
    this.topics = o.topics;
    this.#store = store;
    this.#dispatcherState = store && o.roles.includes('worker') ? 'idle' : 'off';
    this.#retention = store ? new RetentionJob(store, o.topics, o.retention, o.listeners) : undefined;
    this.#heartbeat = store ? new ListenerHeartbeat(store, o.listeners.heartbeatMs) : undefined;
    this.listeners = { retire: (name, opts) => this.#retire(name, opts) };
    this.#scheduler = new Scheduler({
      state: store ? new StoreScheduleState(store.driver, store.tables) : new MemoryScheduleState(),
      append: (envs) => this.#track(this.#append(envs, undefined).then((r) => this.#afterCommit(envs, r))),
      build: (t, p, id) => this.#build(t, p, { id }),
      pollIntervalMs: o.worker.pollIntervalMs,
    });
    this.contexts.register(principalCodec);
    this.contexts.register(traceCodec);
    this.#registry = new Registry(o.topics, o.listenerDefaults, o.dispatch);
    const outcome = (l: RegisteredListener, what: Outcome) => this.#outcomes.record(l, what);
    this.#inline = new InlineDispatcher({
      contexts: this.contexts,
      random: o.random,
      begin: () => this.#attemptEmits(),
      tx: (emits) => (emits as StoreAttemptEmits).tx,
      scope: (emits, fn) => {
        const driver = this.#store?.driver;
        if (driver?.kind !== 'pglite') return fn();
        return pgliteTxScope.run({ driver, holding: () => (emits as StoreAttemptEmits).holding }, fn);
      },
      outcome,
    });
    if (store) {
      this.#notifier = new Notifier(store);
      this.#reader = new LogReader(store);
      this.#dispatcher = new Dispatcher(
        {
          store,
          contexts: this.contexts,
          completer: new Completer(store, o.worker.completionBatchSize),
          random: o.random,
          buildEnvelope: (t, p, opts) => buildEnvelope(o.topics, this.contexts, t as AnyTopic, p, opts),
          plan: (e, opts) => planDelivery(e, opts, this.#registry.all().filter((l) => l.options.durable)),
          afterCommit: (envs, results) => this.#afterCommit(envs, results),
          outcome,
        },
        o.worker,
      );
    } else {
      this.#memory = new MemoryLog();
      this.#reader = undefined;
    }
    this.log = createFeteLog({
      memory: this.#memory,
      store,
      reader: this.#reader,
      notifier: this.#notifier,
      appendHooks: this.#appendHooks,
      pruned: (after) => (store ? prunedAfter(store.driver, store.tables, after) : Promise.resolve([])),
      commitHooks: this.#commitHooks,
      assertOpen: () => this.#assertOpen(),
      rebuild: (envelope) => rebuildEnvelope(o.topics, this.contexts, envelope),
      append: (envelopes) =>
        this.#track(
          this.#append(envelopes, undefined).then((results) => {
            this.#afterCommit(envelopes, results);
            return results;
          }),
        ),
    });
  }

  /** The emit transaction of one inline attempt (attempt-emits.ts). */
  #attemptEmits(): AttemptEmits {
    const deps = {
      build: (t: unknown, p: unknown, opts?: EmitOptions) => (this.#assertOpen(), this.#build(t, p, opts)),
      afterCommit: (envs: Envelope[], results: EmitResult[], opts: EmitOptions[]) => this.#afterCommit(envs, results, opts),
    };
    if (this.#memory) return memoryAttemptEmits(this.#memory, deps);
    const { driver, tables } = this.#store!;
    const durable = () => this.#registry.all().filter((l) => l.options.durable);
    return storeAttemptEmits(driver, tables, { ...deps, plan: (e, opts) => planDelivery(e, opts, durable()) });
  }

  #assertOpen(): void {
    if (this.#closed) throw new FeteError('CLOSED', 'fete is stopped');
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#inflight.add(p);
    void p.then(
      () => this.#inflight.delete(p),
      () => this.#inflight.delete(p),
    );
    return p;
  }

  on(target: AnyTopic | string, name: string, handler: AnyHandler, options?: ListenerOptions): void {
    if (this.#closed || this.#stopping) throw new FeteError('CLOSED', 'fete is stopped');
    const listener = this.#registry.add(target, name, handler, options);
    if (listener.options.durable && this.#store) {
      this.#unrecorded.add(listener);
      this.#record(listener).catch((err: Error) => debug('recording listener %s/%s failed (retried at next emit): %s', listener.target, name, err.message));
    }
  }

  #record(l: RegisteredListener): Promise<void> {
    let p = this.#recording.get(l);
    if (!p) {
      const { driver, tables } = this.#store!;
      p = upsertListener(driver, tables, listenerRecord(l))
        .then(async (id) => {
          l.storeId = id;
          const old = l.options.replaces;
          if (old !== undefined && old !== l.name) {
            const moved = await driver.transaction((tx) => takeOverListener(tx, tables, l.target, old, id));
            debug('listener %s/%s took over %d deliveries of %s', l.target, l.name, moved, old);
          }
          this.#unrecorded.delete(l);
          // fete.off may have come first: then it is recorded, but not run or vouched for here.
          if (this.#registry.find(l.target, l.name) !== l) return;
          this.#heartbeat!.add(l);
          this.#dispatcher!.add(l);
        })
        .finally(() => this.#recording.delete(l));
      this.#recording.set(l, p);
    }
    return p;
  }

  schedule(name: string, spec: ScheduleSpec, target: ScheduleHandler | { topic: unknown; payload: unknown }, options: ScheduleOptions = {}): void {
    if (this.#closed || this.#stopping) throw new FeteError('CLOSED', 'fete is stopped');
    this.#scheduler.declare(name, spec, target, options);
    if (typeof target !== 'function') return;
    const listenerOptions: ListenerOptions = {};
    if (options.retries !== undefined) listenerOptions.retries = options.retries;
    if (options.timeoutMs !== undefined) listenerOptions.timeoutMs = options.timeoutMs;
    const l = this.#registry.addInternal(
      scheduleTopic(name),
      (payload, ctx) => this.#scheduler.run(name, payload, ctx as never, ctx.attempt >= l.options.retries + 1),
      listenerOptions,
    );
    if (l.options.durable && this.#store) {
      this.#unrecorded.add(l);
      this.#record(l).catch((err: Error) => debug('recording schedule %s failed (retried at next emit): %s', name, err.message));
    }
  }

  async off(target: AnyTopic | string, name: string): Promise<boolean> {
    this.#assertOpen();
    const l = this.#registry.remove(this.#registry.targetOf(target), name);
    if (!l) return false;
    this.#unrecorded.delete(l);
    this.#heartbeat?.delete(l);
    if (l.storeId !== undefined) await this.#dispatcher?.remove(l.storeId);
    return true;
  }

  async #retire(name: string, options: RetireOptions = {}): Promise<RetireResult> {
    this.#assertOpen();
    if (typeof name !== 'string' || name.length === 0) throw new FeteError('INVALID_OPTIONS', 'retire: a listener name is needed');
    const target = options.target === undefined ? undefined : this.#registry.targetOf(options.target);
    // Registered here too: stop it first, or this process would keep vouching for it.
    for (const l of this.#registry.all()) if (l.name === name && (target === undefined || l.target === target)) await this.off(l.target, name);
    if (!this.#store) return { listeners: 0, removed: 0, dead: 0 };
    const { driver, tables } = this.#store;
    const { ids: _ids, ...result } = await driver.transaction((tx) => retireListeners(tx, tables, name, { target, dropDead: options.dropDead }));
    debug('retired listener %s: %o', name, result);
    return result;
  }

  async skip(deliveryId: number): Promise<void> {
    this.#assertOpen();
    if (!Number.isSafeInteger(deliveryId)) throw new FeteError('NOT_FOUND', `no delivery ${String(deliveryId)}`);
    if (deliveryId < 0 || !this.#store) {
      if (!this.#inline.skip(deliveryId)) throw new FeteError('NOT_FOUND', `no dead letter ${deliveryId}`);
      return;
    }
    const { driver, tables } = this.#store;
    const listenerId = await skipDelivery(driver, tables, deliveryId);
    if (listenerId === undefined) throw new FeteError('NOT_FOUND', `delivery ${deliveryId} is not dead or pending`, { details: { deliveryId } });
    await notifyWake(driver, tables, [listenerId]);
  }

  waitIdle(options: WaitIdleOptions = {}): Promise<void> {
    this.#assertOpen();
    return waitIdle(
      {
        inflight: () => this.#inflight.size,
        inline: (horizon: number) => this.#inline.idle(horizon),
        local: () => this.#dispatcher?.busy() ?? false,
        store: this.#store,
        orphanAfterMs: this.#o.listeners.orphanAfterMs,
      },
      options,
    );
  }

  /** Durable listeners must be in the store before an append, or their deliveries are missed. */
  async #recorded(): Promise<void> {
    if (this.#unrecorded.size === 0) return;
    try {
      await Promise.all([...this.#unrecorded].map((l) => this.#record(l)));
    } catch (err) {
      throw FeteError.from(err, 'STORE_UNAVAILABLE');
    }
  }

  #build(topic: unknown, payload: unknown, options?: EmitOptions): Promise<Envelope> {
    return buildEnvelope(this.topics, this.contexts, topic as AnyTopic, payload, options);
  }

  emit(topic: unknown, payload: unknown, options?: EmitOptions): Promise<EmitResult> {
    return this.#emitMany([{ topic, payload, ...options }]).then((r) => r[0]!);
  }

  emitMany(items: ReadonlyArray<{ topic: unknown; payload: unknown } & EmitOptions>): Promise<EmitResult[]> {
    return this.#emitMany(items);
  }

  #emitMany(items: ReadonlyArray<{ topic: unknown; payload: unknown } & EmitOptions>): Promise<EmitResult[]> {
    try {
      this.#assertOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#track(
      (async () => {
        const envelopes = await Promise.all(items.map((i) => this.#build(i.topic, i.payload, i)));
        if (envelopes.length === 0) return [];
        const taken: TakenDelivery[] = [];
        const results = await this.#append(envelopes, undefined, envelopes.length === 1 ? taken : undefined, items);
        if (taken.length > 0) this.#dispatcher!.adopt(taken);
        this.#afterCommit(envelopes, results, items);
        return results;
      })(),
    );
  }

  /** Appends (in `q`, a transaction, when given: `transaction()` has recorded the listeners before
   * opening it); with `taken` (single autocommit emits), idle local listeners claim in the append. */
  async #append(
    envelopes: Envelope[],
    q: Queryable | undefined,
    taken?: TakenDelivery[],
    options?: ReadonlyArray<EmitOptions | undefined>,
  ): Promise<EmitResult[]> {
    if (this.#memory) {
      // Checked as the store path checks them, so an emit refused durably is refused inline too.
      if (options) envelopes.forEach((e, i) => planDelivery(e, options[i], []));
      return this.#memory.append(envelopes);
    }
    if (!q) await this.#recorded();
    // After #recorded: the keys of local listeners need their store ids.
    const durable = this.#registry.all().filter((l) => l.options.durable);
    const plans = options && envelopes.map((e, i) => planDelivery(e, options[i], durable));
    const { driver, tables } = this.#store!;
    const idle = taken && this.#o.worker.localTake ? this.#dispatcher!.idleListenerIds() : [];
    const take = idle.length > 0 ? { listenerIds: idle, leaseMs: this.#o.worker.leaseMs } : undefined;
    try {
      return await appendEvents(q ?? driver, tables, envelopes, take, taken, plans);
    } catch (err) {
      throw isFeteError(err) ? err : FeteError.from(err, 'STORE_UNAVAILABLE');
    }
  }

  /** After a commit: run non-durable listeners of the new events, and hand the events to this
   * process's log tails (the fanout sends them without waiting for NOTIFY and a read). */
  #afterCommit(envelopes: readonly Envelope[], results: readonly EmitResult[], options?: ReadonlyArray<EmitOptions | undefined>): void {
    const committed: Envelope[] | undefined = this.#commitHooks.size > 0 ? [] : undefined;
    for (let i = 0; i < envelopes.length; i++) {
      const r = results[i]!;
      if (r.duplicate) continue;
      const envelope = { ...envelopes[i]!, seq: r.seq };
      committed?.push(envelope);
      const listeners = this.#registry.inlineFor(envelope);
      if (listeners.length > 0) this.#inline.dispatch(envelope, listeners, options?.[i]);
    }
    if (committed && committed.length > 0)
      for (const hook of this.#commitHooks) {
        try {
          hook(committed);
        } catch (err) {
          debug('a commit hook threw: %s', (err as Error).message);
        }
      }
    if (this.#memory) for (const hook of this.#appendHooks) hook(this.#memory.head);
  }

  async transaction<R>(fn: (tx: FeteTransaction<TopicCatalog>) => Promise<R>): Promise<R> {
    this.#assertOpen();
    const envelopes: Envelope[] = [];
    const results: EmitResult[] = [];
    const emitOptions: EmitOptions[] = [];
    const run = async (q: Queryable | undefined): Promise<R> => {
      const emitMany = async (items: ReadonlyArray<{ topic: unknown; payload: unknown } & EmitOptions>) => {
        const built = await Promise.all(items.map((i) => this.#build(i.topic, i.payload, i)));
        const r = await this.#append(built, q, undefined, items);
        envelopes.push(...built);
        results.push(...r);
        emitOptions.push(...items);
        return r;
      };
      const tx = {
        query: (sql: string, params?: readonly unknown[]) => {
          if (!q) return Promise.reject(new FeteError('INVALID_OPTIONS', "tx.query needs a store; dispatch: 'inline' has none"));
          return q.query(sql, params);
        },
        emit: (topic: unknown, payload: unknown, options?: EmitOptions) => emitMany([{ topic, payload, ...options }]).then((r) => r[0]!),
        emitMany,
      } as unknown as FeteTransaction<TopicCatalog>;
      return fn(tx);
    };
    const work = (async () => {
      if (this.#memory) {
        try {
          return await run(undefined);
        } catch (err) {
          this.#memory.forget(envelopes.filter((_, i) => !results[i]!.duplicate));
          throw err;
        }
      }
      await this.#recorded();
      const driver = this.#store!.driver;
      return driver.transaction((h) => pgliteTxScope.run({ driver, holding: () => !h.closed }, () => run(h)));
    })();
    const value = await this.#track(work);
    this.#afterCommit(envelopes, results, emitOptions);
    return value;
  }

  attach(httpServer: HttpServer | HttpsServer, options?: AttachOptions<unknown>): FanoutHandle {
    if (this.#closed || this.#stopping) throw new FeteError('CLOSED', 'fete is stopped');
    const handle = attachFanout(this, httpServer, options);
    const tracked: FanoutHandle = {
      io: handle.io,
      stats: () => handle.stats(),
      close: () => {
        this.#fanouts.delete(tracked);
        return handle.close();
      },
    };
    this.#fanouts.add(tracked);
    return tracked;
  }

  express(options?: ExpressOptions<unknown>): FeteRouter {
    const router = createExpressMiddleware(this, options);
    this.#routers.add(router);
    return router;
  }

  async prune(): Promise<PruneReport[]> {
    this.#assertOpen();
    if (!this.#retention) return [];
    return this.#track(this.#retention.run());
  }

  workerStatus(): WorkerStatus {
    const listeners = this.#registry.all();
    return {
      dispatcher: this.#dispatcherState,
      listeners: listeners.length,
      durableListeners: listeners.filter((l) => l.options.durable).length,
      outcomes: this.#outcomes.total(),
      byListener: this.#outcomes.byListener(listeners),
    };
  }

  fanoutStats(): FanoutStats {
    return sumFanoutStats([...this.#fanouts].map((f) => f.stats()));
  }

  start(): Promise<void> {
    this.#assertOpen();
    this.#started ??= this.#track(
      (async () => {
        await this.#recorded();
        if (this.#dispatcher && this.#o.roles.includes('worker')) {
          const dispatcher = this.#dispatcher;
          await this.#notifier!.subscribe((w) => dispatcher.wake(w.listenerIds));
          await dispatcher.start();
          this.#dispatcherState = 'running';
          this.#retention?.start();
        }
        if (this.#memory || this.#o.roles.includes('worker')) this.#scheduler.start();
      })(),
    );
    return this.#started;
  }

  stop(options: StopOptions = {}): Promise<void> {
    const drain = options.drain ?? true;
    this.#stopping ??= (async () => {
      await this.#started?.catch(() => undefined);
      // Sockets first: no new subscription or client emit arrives while the rest shuts down.
      for (const r of this.#routers) r.close();
      await this.#scheduler.stop();
      await Promise.allSettled([...this.#fanouts].map((f) => f.close()));
      // Handlers draining here may still emit; new work is refused only after they are done.
      if (this.#dispatcherState !== 'off') this.#dispatcherState = 'stopping';
      await this.#retention?.stop();
      await this.#heartbeat?.stop();
      await this.#dispatcher?.stop(drain);
      if (this.#dispatcherState !== 'off') this.#dispatcherState = 'stopped';
      await this.#inline.stop(drain);
      this.#closed = true;
      await Promise.allSettled([...this.#inflight]);
      this.#appendHooks.clear();
      this.#commitHooks.clear();
      await this.#notifier?.close();
      await this.#store?.close();
    })();
    return this.#stopping;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async stats(): Promise<FeteStats> {
    this.#assertOpen();
    const schedules = await this.#scheduler.stats();
    const stats = await collectStats({
      store: this.#store,
      catalog: this.topics,
      registry: this.#registry,
      inline: this.#inline,
      memoryHead: this.#memory?.head,
      orphanAfterMs: this.#o.listeners.orphanAfterMs,
    });
    return { ...stats, schedules };
  }

  async deadLetters(query: DeadLetterQuery = {}): Promise<DeadLetter[]> {
    this.#assertOpen();
    const inMemory = this.#inline.deadLetters().filter((d) => query.listener === undefined || d.listener.name === query.listener);
    if (!this.#store) return inMemory.slice(0, query.limit ?? 100);
    const { driver, tables } = this.#store;
    const stored = await listDeadDeliveries(driver, tables, query);
    return [...stored, ...inMemory].slice(0, query.limit ?? 100);
  }

  async retry(deliveryId: number): Promise<void> {
    this.#assertOpen();
    if (!Number.isSafeInteger(deliveryId)) throw new FeteError('NOT_FOUND', `no dead letter ${String(deliveryId)}`);
    if (deliveryId < 0 || !this.#store) {
      if (!this.#inline.retry(deliveryId)) throw new FeteError('NOT_FOUND', `no dead letter ${deliveryId}`);
      return;
    }
    const { driver, tables } = this.#store;
    const listenerId = await retryDeadDelivery(driver, tables, deliveryId);
    if (listenerId === undefined) throw new FeteError('NOT_FOUND', `delivery ${deliveryId} is not a dead letter`, { details: { deliveryId } });
    await notifyWake(driver, tables, [listenerId]);
  }
}
