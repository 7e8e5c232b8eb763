// createFete, the composition root: opens (and migrates) the store, and wires the parts around the
// event log — the registry of listeners, the log (store or memory, log/), the writer that appends
// emits (log/log-writer.ts), the dispatchers (dispatch/), the fanout (fanout/), HTTP (http/) and
// the operator's calls (operations.ts). Behaviour lives in those parts; this file only connects
// them and owns the lifecycle (start, stop). See DESIGN.md "Layout".
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import createDebug from 'debug';
import { type AnyTopic, type CheckedPattern, type Envelope, FeteError, isFeteError, type InputOf, type TopicCatalog, type TopicsOf, validatePattern } from '../shared/index.js';
import { admitServerEmit } from './ingress/admit-server.js';
import { stampAdmitted } from './ingress/stamp-headers.js';
import { type PendingLive, deferLiveEmits } from './ingress/emit-route.js';
import type { LiveHub } from './live/live-hub.js';
import { type LiveParts, liveParts } from './live/live-parts.js';
import { Contexts } from './context/context-registry.js';
import { principalCodec } from './context/principal.js';
import { traceCodec } from './context/trace.js';
import type { Security } from './security/security.js';
import { currentTenant, tenantCodec, tenantOf, validTenant } from './security/tenant.js';
import { Completer } from './dispatch/completer.js';
import { Dispatcher } from './dispatch/dispatcher.js';
import { type AttemptEmits, InlineDispatcher } from './dispatch/inline-dispatcher.js';
import { type StoreAttemptEmits, memoryAttemptEmits, storeAttemptEmits } from './dispatch/attempt-emits.js';
import { planDelivery } from './dispatch/delivery-plan.js';
import { ListenerHeartbeat } from './listener-heartbeat.js';
import { type ScheduleHandler, type ScheduleOptions, type ScheduleTick, Scheduler, scheduleTopic } from './schedule/scheduler.js';
import type { ScheduleSpec } from './schedule/schedule-spec.js';
import { MemoryScheduleState } from './schedule/schedule-state.js';
import { StoreScheduleState } from './store/schedule-queries.js';
import { type RetireResult, retireListeners, skipDelivery } from './store/listener-queries.js';
import { notifyWake } from './store/delivery-queries.js';
import { pgliteTxScope } from './store/pglite-tx-scope.js';
import { type WaitIdleOptions, waitIdle } from './wait-idle.js';
import { DeliveryOutcomes, type Outcome } from './delivery-outcomes.js';
import { Doors } from './doors.js';
import { DurableListeners } from './durable-listeners.js';
import type { EventBus } from './bus/event-bus.js';
import { type Links, openLinks } from './bus/open-bus.js';
import { attachFanout } from './fanout/attach.js';
import type { AttachOptions, FanoutHandle, FanoutStats } from './fanout/types.js';
import type { Fete, FollowOptions, ListenerAdmin, ListenerOptionsArg, RetireOptions } from './fete-api.js';
import { createFeteLog } from './fete-log.js';
import { type ExpressOptions, type FeteRouter, createExpressMiddleware } from './http/index.js';
import type { EventLog } from './log/event-log.js';
import { type FollowItem, followPattern } from './log/follow.js';
import { LogWriter } from './log/log-writer.js';
import { MemoryLog } from './log/memory-log.js';
import { openLog } from './log/open-log.js';
import { StoreLog } from './log/store-log.js';
import { Operations } from './operations.js';
import type { PresenceService, PresenceQueryOptions } from './presence/presence-service.js';
import type { PresenceObserver } from './presence/presence-observer.js';
import type { PresenceChange, PresenceMember } from '../shared/index.js';
import { LogEvents } from './logger.js';
import { StoreOutage } from './store-outage.js';
import { NoWorkerWatch } from './no-worker-watch.js';
import type { AnyCommand, AnyQuery, AnyRequest, RequestInputOf, RequestOutputOf } from '../shared/index.js';
import { CommandBus } from './commands/command-bus.js';
import type { ExecuteOptions, HandleOptions, RequestHandler } from './commands/types.js';
import { probeWrite } from './store/write-probe.js';
import { type FeteOptions, type ListenerOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { type AnyHandler, Registry, type RegisteredListener } from './registry.js';
import { type PruneReport, RetentionJob } from './retention-job.js';
import type { Store } from './store/open-store.js';
import type { TxHandle } from './store/driver.js';
import type { DeadLetter, DeadLetterQuery, DispatcherState, EmitItem, EmitOptions, EmitResult, FeteLog, FeteStats } from './types.js';
import type { DispatchMode, FeteTransaction, ListenerContext, PatternHandler, StopOptions, TopicHandler, WorkerStatus } from './types.js';

const liveDebug = createDebug('fete:live');

export type { Fete, FollowOptions, ListenerAdmin, RetireOptions } from './fete-api.js';

/** Opens the store (unless `dispatch: 'inline'`), applies migrations and returns the server. */
export async function createFete<const C extends TopicCatalog, const D extends DispatchMode = 'durable'>(
  options: FeteOptions<C> & { dispatch?: D },
): Promise<Fete<C, D>> {
  const resolved = resolveOptions(options);
  const { store, log } = await openLog(resolved);
  const links = await openLinks(resolved, log, store, options.presence);
  return new FeteServer<C, D>(resolved, store, log, links);
}

type Item = { topic: unknown; payload: unknown } & EmitOptions;
type AppendAdmitted = (envelopes: Envelope[], options?: ReadonlyArray<EmitOptions | undefined>) => Promise<EmitResult[]>;

class FeteServer<C extends TopicCatalog, D extends DispatchMode> implements Fete<C, D> {
  readonly topics: C;
  readonly contexts = new Contexts();
  readonly log: FeteLog;
  readonly commands: CommandBus;
  readonly security: Security;
  readonly live: LiveHub;
  /** Volatile and latest topics: the channel, the hub and the route by delivery (live/live-parts.ts). */
  readonly #live: LiveParts;
  /** The NATS bus between web nodes (`bus` option), if any. */
  readonly bus: EventBus | undefined;
  readonly #o: ResolvedOptions;
  readonly #store: Store | undefined;
  readonly #log: EventLog;
  readonly #registry: Registry;
  readonly #inline: InlineDispatcher;
  readonly #dispatcher: Dispatcher | undefined;
  readonly #listeners: DurableListeners | undefined;
  readonly #writer: LogWriter;
  readonly #operations: Operations;
  readonly #retention: RetentionJob | undefined;
  readonly #heartbeat: ListenerHeartbeat | undefined;
  readonly #logs: LogEvents;
  readonly #outage: StoreOutage;
  readonly #noWorker: NoWorkerWatch | undefined;
  readonly #scheduler: Scheduler;
  readonly listeners: ListenerAdmin;
  readonly #outcomes = new DeliveryOutcomes();
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #doors = new Doors();
  readonly presenceService: PresenceService;
  readonly #presence: { close(): Promise<void> };
  #dispatcherState: DispatcherState;
  #started: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #closed = false;

  constructor(o: ResolvedOptions, store: Store | undefined, log: EventLog, links: Links) {
    const { channel, presence, bus } = links;
    this.#o = o;
    this.bus = bus;
    this.presenceService = presence.service;
    this.#presence = presence;
    this.topics = o.topics as C;
    this.#store = store;
    this.#log = log;
    this.contexts.register(principalCodec);
    this.contexts.register(traceCodec);
    this.contexts.register(tenantCodec);
    this.security = o.security;
    this.#registry = new Registry(o.topics, o.listenerDefaults, o.dispatch);
    this.#logs = new LogEvents(o.logger);
    this.#outage = new StoreOutage(this.#logs);
    const failed = this.#logs.failure.bind(this.#logs);
    const failedLive = (err: unknown) => liveDebug('sending the live emits of a succeeded attempt failed: %s', (err as Error)?.message);
    const outcome = (l: RegisteredListener, what: Outcome) => this.#outcomes.record(l, what);
    this.#noWorker = store
      ? new NoWorkerWatch({
          store,
          logs: this.#logs,
          running: () => this.#dispatcherState === 'running',
          workerRole: o.roles.includes('worker'),
          dueForMs: 5 * o.worker.pollIntervalMs,
        })
      : undefined;
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
      failed,
    });
    this.listeners = { retire: (name, opts) => this.#retire(name, opts) };
    this.#scheduler = new Scheduler({
      state: store ? new StoreScheduleState(store.driver, store.tables) : new MemoryScheduleState(),
      append: (envs) => this.#track(this.#routeEmit(envs)).then(() => undefined),
      build: (t, p, id) => this.#build(t, p, { id }),
      pollIntervalMs: o.worker.pollIntervalMs,
    });
    if (store) {
      this.#dispatcher = new Dispatcher(
        {
          store,
          contexts: this.contexts,
          completer: new Completer(store, o.worker.completionBatchSize),
          random: o.random,
          buildEnvelope: (t, p, opts) => this.#build(t, p, opts),
          plan: (e, opts) => planDelivery(e, opts, this.#registry.all().filter((l) => l.options.durable)),
          afterCommit: (envs, results) => this.#writer.committed(envs, results),
          live: { defers: (t) => this.#live.route.isLiveTopic(t), send: (envs) => void this.#track(this.#routeEmit(envs)).catch(failedLive) },
          outcome,
          failed,
          outage: this.#outage,
        },
        o.worker,
      );
      this.#heartbeat = new ListenerHeartbeat(store, o.listeners.heartbeatMs);
      this.#listeners = new DurableListeners(store, this.#dispatcher, this.#registry, this.#heartbeat);
      this.#retention = new RetentionJob(store, o.topics, o.retention, o.listeners);
    }
    this.#dispatcherState = this.#dispatcher && o.roles.includes('worker') ? 'idle' : 'off';
    const { localTake, leaseMs } = o.worker;
    const [registry, inline, dispatcher, listeners] = [this.#registry, this.#inline, this.#dispatcher, this.#listeners];
    this.#writer = new LogWriter({
      log,
      registry,
      inline,
      dispatcher,
      listeners,
      localTake,
      leaseMs,
      appended: () => {
        this.#outage.ok();
        this.#noWorker?.appended();
      },
      appendFailed: (err) => {
        if (isFeteError(err) && err.code === 'STORE_UNAVAILABLE') this.#outage.failed('emit', err.cause ?? err);
      },
    });
    // Non-durable listeners of live events run here, in the emitting process, as after a commit.
    this.#live = liveParts(o.topics, store, channel, (e, opts) => {
      const ls = registry.inlineFor(e);
      if (ls.length > 0) inline.dispatch(e, ls, opts);
    });
    this.live = this.#live.hub;
    const memoryHead = () => (log instanceof MemoryLog ? log.headSeq : undefined);
    this.#operations = new Operations({ store, catalog: o.topics, registry, inline, memoryHead, orphanAfterMs: o.listeners.orphanAfterMs });
    this.commands = new CommandBus(
      {
        topics: o.topics,
        store,
        roles: o.roles,
        transaction: (fn) => this.#transaction((tx, appendAdmitted, q) => fn(tx as unknown as FeteTransaction<TopicCatalog>, appendAdmitted, q?.deferToCommit?.bind(q))),
        admit: (t, p, opts) => this.#build(t, p, opts),
        assertOpen: () => this.#assertOpen(),
        tenantOf: (p) => o.security.tenantOf(p),
      },
      o.commands,
    );
    this.log = createFeteLog(log, {
      assertOpen: () => this.#assertOpen(),
      stamp: (envelope) => stampAdmitted(o.topics, this.contexts, envelope),
      append: (envelopes) => this.#track(this.#routeEmit(envelopes)),
    });
  }

  /** Admitted envelopes to the log, the live channel or the latest values, by topic delivery. */
  #routeEmit(envelopes: Envelope[], options?: ReadonlyArray<EmitOptions | undefined>): Promise<EmitResult[]> {
    return this.#live.route.emit(envelopes, options, (e, opts) => this.#writer.emit(e, opts));
  }

  /** The emit transaction of one inline attempt (attempt-emits.ts): what `ctx.emit` appends
   * becomes visible, and runs listeners, only when the attempt succeeds. */
  #attemptEmits(): AttemptEmits {
    const build = (t: unknown, p: unknown, opts?: EmitOptions) => (this.#assertOpen(), this.#build(t, p, opts));
    return deferLiveEmits(this.#logAttemptEmits(), this.topics, build, (envs, opts) => this.#track(this.#routeEmit(envs, opts)));
  }

  #logAttemptEmits(): AttemptEmits {
    const deps = {
      build: (t: unknown, p: unknown, opts?: EmitOptions) => (this.#assertOpen(), this.#build(t, p, opts)),
      afterCommit: (envs: Envelope[], results: EmitResult[], opts: EmitOptions[]) => this.#writer.committed(envs, results, opts),
    };
    if (this.#log instanceof MemoryLog) return memoryAttemptEmits(this.#log, deps);
    const { driver, tables } = this.#store!;
    const durable = () => this.#registry.all().filter((l) => l.options.durable);
    return storeAttemptEmits(driver, tables, { ...deps, plan: (e, opts) => planDelivery(e, opts, durable()) });
  }

  #assertOpen(): void {
    if (this.#closed) throw new FeteError('CLOSED', 'fete is stopped');
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#inflight.add(p);
    const done = () => this.#inflight.delete(p);
    void p.then(done, done);
    return p;
  }

  on<T extends TopicsOf<C>>(topic: T, name: string, handler: TopicHandler<C, T, D>, ...options: ListenerOptionsArg<T, D>): void;
  on<const P extends string>(pattern: CheckedPattern<C, P>, name: string, handler: PatternHandler<C, P, D>, options?: ListenerOptions): void;
  on(target: AnyTopic | string, name: string, handler: (payload: never, ctx: never) => unknown, options?: ListenerOptions): void {
    if (this.#closed || this.#stopping) throw new FeteError('CLOSED', 'fete is stopped');
    // The overloads above type the handler per topic or pattern; the registry runs any handler.
    const listener = this.#registry.add(target, name, handler as AnyHandler, options);
    if (listener.options.durable) this.#listeners?.add(listener);
  }

  schedule<T extends TopicsOf<C>>(
    name: string,
    spec: ScheduleSpec,
    handlerOrEmit: ((tick: ScheduleTick, ctx: ListenerContext<C, Envelope, D>) => unknown) | { topic: T; payload: InputOf<T> | ((tick: Date) => InputOf<T>) },
    options: ScheduleOptions = {},
  ): void {
    if (this.#closed || this.#stopping) throw new FeteError('CLOSED', 'fete is stopped');
    // The signature types the handler's context per catalogue and mode; the scheduler runs any.
    const target = handlerOrEmit as ScheduleHandler | { topic: unknown; payload: unknown };
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
    if (l.options.durable) this.#listeners?.add(l);
  }

  async off(target: AnyTopic | string, name: string): Promise<boolean> {
    this.#assertOpen();
    const l = this.#registry.remove(this.#registry.targetOf(target), name);
    if (!l) return false;
    this.#listeners?.delete(l);
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

  #build(topic: unknown, payload: unknown, options?: EmitOptions): Promise<Envelope> {
    return admitServerEmit({ catalog: this.topics, contexts: this.contexts, maxEnvelopeBytes: this.#o.maxEnvelopeBytes }, topic as AnyTopic, payload, options);
  }

  emit<T extends TopicsOf<C>>(topic: T, payload: InputOf<T>, options?: EmitOptions): Promise<EmitResult> {
    return this.#emit([{ topic, payload, ...options }]).then((r) => r[0]!);
  }

  emitMany(items: ReadonlyArray<EmitItem<C>>): Promise<EmitResult[]> {
    return this.#emit(items);
  }

  #emit(items: ReadonlyArray<Item>): Promise<EmitResult[]> {
    if (this.#closed) return Promise.reject(new FeteError('CLOSED', 'fete is stopped'));
    return this.#track(Promise.all(items.map((i) => this.#build(i.topic, i.payload, i))).then((envelopes) => this.#routeEmit(envelopes, items)));
  }

  handle<R extends AnyRequest>(request: R, handler: RequestHandler<C, R>, options?: HandleOptions): void {
    if (this.#stopping) throw new FeteError('CLOSED', 'fete is stopped');
    this.commands.handle(request, handler, options);
  }

  execute<K extends AnyCommand>(command: K, input: RequestInputOf<K>, options?: ExecuteOptions): Promise<RequestOutputOf<K>> {
    return this.#track(this.commands.serverCall('command', command, input, options)) as Promise<RequestOutputOf<K>>;
  }

  query<Q extends AnyQuery>(query: Q, input: RequestInputOf<Q>, options?: Omit<ExecuteOptions, 'id'>): Promise<RequestOutputOf<Q>> {
    return this.#track(this.commands.serverCall('query', query, input, options)) as Promise<RequestOutputOf<Q>>;
  }

  commandResult<K extends AnyCommand>(command: K, id: string, options?: Omit<ExecuteOptions, 'id'>): Promise<RequestOutputOf<K>>;
  commandResult(id: string, options?: Omit<ExecuteOptions, 'id'>): Promise<unknown>;
  commandResult(a: unknown, b?: unknown, c?: unknown): Promise<unknown> {
    const [command, id, options] = typeof a === 'string' ? [undefined, a, b] : [a as AnyCommand, b, c];
    return this.#track(this.commands.serverResult(id, options as Omit<ExecuteOptions, 'id'> | undefined, command));
  }

  transaction<R>(fn: (tx: FeteTransaction<C>) => Promise<R>): Promise<R> {
    return this.#transaction((tx) => fn(tx));
  }

  /** `fete.transaction`, also handing `fn` the append of envelopes ingress admitted already (a
   * command's `ctx.emit` admits when called and appends when the handler returns: once). */
  #transaction<R>(fn: (tx: FeteTransaction<C>, appendAdmitted: AppendAdmitted, q: Partial<TxHandle> | undefined) => Promise<R>): Promise<R> {
    this.#assertOpen();
    const pending: PendingLive[] = [];
    const work = this.#writer.transaction((append, q) => {
      const emitMany = async (items: ReadonlyArray<Item>) =>
        this.#live.route.inTransaction(await Promise.all(items.map((i) => this.#build(i.topic, i.payload, i))), items, q, pending, append);
      const tx: FeteTransaction<C> = {
        query: (sql, params) => {
          if (!q) return Promise.reject(new FeteError('INVALID_OPTIONS', "tx.query needs a store; dispatch: 'inline' has none"));
          return q.query(sql, params);
        },
        emit: (topic, payload, options) => emitMany([{ topic, payload, ...options }]).then((r) => r[0]!),
        emitMany,
      };
      // The store's transaction handle where there is one (the log hands it over as a Queryable).
      return fn(tx, append, q as Partial<TxHandle> | undefined);
    });
    // Live events of the transaction go out once it committed (none if it rolled back).
    return this.#track(
      work.then(async (value) => {
        for (const p of pending) await p.publish();
        return value;
      }),
    );
  }

  follow(pattern: string, options: FollowOptions = {}): AsyncIterable<FollowItem> {
    this.#assertOpen();
    const { tenant } = options;
    if (tenant === undefined) return followPattern(this.#log, pattern, options);
    const only = validTenant(tenant, 'follow: tenant');
    return followPattern(this.#log, pattern, { ...options, visible: (e) => tenantOf(e) === only });
  }

  latest(pattern: string, options: { tenant?: string } = {}): Promise<Envelope[]> {
    this.#assertOpen();
    validatePattern(pattern);
    const tenant = options.tenant === undefined ? (currentTenant() ?? '') : validTenant(options.tenant, 'latest: tenant');
    return this.#track(this.live.values(pattern, tenant));
  }

  attach<P = unknown>(httpServer: HttpServer | HttpsServer, options?: AttachOptions<P>): FanoutHandle {
    if (this.#closed || this.#stopping) throw new FeteError('CLOSED', 'fete is stopped');
    return this.#doors.fanout(attachFanout(this, httpServer, options, this.#logs));
  }

  presence(pattern: string, options?: PresenceQueryOptions): Promise<PresenceMember[]> {
    this.#assertOpen();
    return this.presenceService.members(pattern, options);
  }

  observePresence(pattern: string, options?: PresenceQueryOptions & { onChange?: (change: PresenceChange) => void }): PresenceObserver {
    this.#assertOpen();
    return this.presenceService.observe(pattern, options);
  }

  express<P = unknown>(options?: ExpressOptions<P>): FeteRouter {
    return this.#doors.router(createExpressMiddleware(this, options, this.#logs));
  }

  async prune(): Promise<PruneReport[]> {
    this.#assertOpen();
    if (!this.#retention) return [];
    return this.#track(this.#retention.run());
  }

  workerStatus(): WorkerStatus {
    return this.#outcomes.status(this.#dispatcherState, this.#registry.all(), this.#started !== undefined);
  }

  fanoutStats(): FanoutStats {
    return this.#doors.fanoutStats();
  }

  start(): Promise<void> {
    this.#assertOpen();
    this.#started ??= this.#track(
      (async () => {
        await this.#listeners?.recorded();
        await this.commands.start();
        if (this.#dispatcher && this.#log instanceof StoreLog && this.#o.roles.includes('worker')) {
          const dispatcher = this.#dispatcher;
          await this.#log.notifier.subscribe((w) => dispatcher.wake(w.listenerIds));
          await dispatcher.start();
          this.#dispatcherState = 'running';
          this.#retention?.start();
        }
        if (this.#log instanceof MemoryLog || this.#o.roles.includes('worker')) this.#scheduler.start();
      })(),
    );
    return this.#started;
  }

  stop(options: StopOptions = {}): Promise<void> {
    const drain = options.drain ?? true;
    this.#stopping ??= (async () => {
      await this.#started?.catch(() => undefined);
      this.#noWorker?.stop();
      // Sockets first: no new subscription or client emit arrives while the rest shuts down.
      await this.#doors.closeAll();
      // After the sockets (their leaves are written), before the store: this node's rows go.
      await this.#presence.close();
      await this.#scheduler.stop();
      // Handlers draining here may still emit; new work is refused only after they are done.
      if (this.#dispatcherState !== 'off') this.#dispatcherState = 'stopping';
      await this.#retention?.stop();
      await this.#heartbeat?.stop();
      await this.#dispatcher?.stop(drain);
      if (this.#dispatcherState !== 'off') this.#dispatcherState = 'stopped';
      await this.#inline.stop(drain);
      await this.commands.stop();
      this.#closed = true;
      await Promise.allSettled([...this.#inflight]);
      await this.#live.close();
      await this.bus?.close(); // after the last commits: their events are published first
      await this.#log.close();
      await this.#store?.close();
    })();
    return this.#stopping;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async stats(): Promise<FeteStats> {
    this.#assertOpen();
    const [stats, schedules] = await Promise.all([this.#operations.stats(), this.#scheduler.stats()]);
    return { ...stats, schedules };
  }

  async checkWrite(): Promise<void> {
    this.#assertOpen();
    if (this.#store) await probeWrite(this.#store);
  }

  async deadLetters(query?: DeadLetterQuery): Promise<DeadLetter[]> {
    this.#assertOpen();
    return this.#operations.deadLetters(query);
  }

  async retry(deliveryId: number): Promise<void> {
    this.#assertOpen();
    return this.#operations.retry(deliveryId);
  }
}
