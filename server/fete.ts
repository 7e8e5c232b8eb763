// createFete: the server's registry and emit path over a store. It opens (and migrates) the store,
// records durable listeners there, appends emits, runs non-durable listeners after commit, and on
// `start()` runs the durable dispatcher (worker role). See DESIGN.md "Durable dispatch".
import createDebug from 'debug';
import { type AnyTopic, type Envelope, FeteError, type TopicCatalog, isFeteError } from '../shared/index.js';
import { buildEnvelope, rebuildEnvelope } from './build-envelope.js';
import { type ContextRegistry, Contexts } from './context/context-registry.js';
import { principalCodec } from './context/principal.js';
import { traceCodec } from './context/trace.js';
import type { Security } from './security/security.js';
import { tenantCodec } from './security/tenant.js';
import { Completer } from './dispatch/completer.js';
import { Dispatcher } from './dispatch/dispatcher.js';
import { InlineDispatcher } from './dispatch/inline-dispatcher.js';
import { MemoryLog } from './memory-log.js';
import { type FeteOptions, type ListenerOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { type AnyHandler, Registry, type RegisteredListener, listenerRecord } from './registry.js';
import { listDeadDeliveries, notifyWake, retryDeadDelivery } from './store/delivery-queries.js';
import type { Queryable } from './store/driver.js';
import { type TakenDelivery, appendEvents } from './store/event-queries.js';
import { LogReader } from './store/log-reader.js';
import { upsertListener } from './store/listener-queries.js';
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
  PatternHandler,
  StopOptions,
  TopicHandler,
  DispatcherState,
  WorkerStatus,
} from './types.js';
import type { TopicsOf } from '../shared/index.js';
import { sumFanoutStats } from './fanout/fanout-stats.js';
import { type ExpressOptions, type FeteRouter, createExpressMiddleware } from './http/index.js';

const debug = createDebug('fete:server');

export interface Fete<C extends TopicCatalog> {
  /** The catalogue this server was created with. */
  readonly topics: C;
  /** Context codecs: `fete.contexts.register({ name, capture, restore })`. */
  readonly contexts: ContextRegistry;
  /** Reads and tails of the log, for the fanout and HTTP layers. @internal */
  readonly log: FeteLog;
  /** The resolved `security` option, shared by every door (`attach`, `express`). @internal */
  readonly security: Security;
  /** Registers a listener on a catalogue topic (durable by default). (topic, name) must be unique. */
  on<T extends TopicsOf<C>>(topic: T, name: string, handler: TopicHandler<C, T>, options?: ListenerOptions): void;
  /** Registers a listener on a subject pattern (`orders.*.status`, `orders.>`) or a topic's name. */
  on<const P extends string>(pattern: P, name: string, handler: PatternHandler<C, P>, options?: ListenerOptions): void;
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
export async function createFete<const C extends TopicCatalog>(options: FeteOptions<C>): Promise<Fete<C>> {
  const resolved = resolveOptions(options);
  const store = resolved.dispatch === 'durable' ? await openStore(resolved.store, resolved.schema) : undefined;
  return new FeteServer(resolved, store) as unknown as Fete<C>;
}

class FeteServer {
  readonly topics: TopicCatalog;
  readonly contexts = new Contexts();
  readonly log: FeteLog;
  readonly security: Security;
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
  #dispatcherState: DispatcherState;
  #started: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #closed = false;

  constructor(o: ResolvedOptions, store: Store | undefined) {
    this.#o = o;
    this.topics = o.topics;
    this.#store = store;
    this.#dispatcherState = store && o.roles.includes('worker') ? 'idle' : 'off';
    this.#retention = store ? new RetentionJob(store, o.topics, o.retention) : undefined;
    this.contexts.register(principalCodec);
    this.contexts.register(traceCodec);
    this.contexts.register(tenantCodec);
    this.security = o.security;
    this.#registry = new Registry(o.topics, o.listenerDefaults, o.dispatch);
    const outcome = (l: RegisteredListener, what: Outcome) => this.#outcomes.record(l, what);
    this.#inline = new InlineDispatcher({ contexts: this.contexts, random: o.random, emit: (t, p, opts) => this.emit(t, p, opts), outcome });
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
        .then((id) => {
          l.storeId = id;
          this.#unrecorded.delete(l);
          this.#dispatcher!.add(l);
        })
        .finally(() => this.#recording.delete(l));
      this.#recording.set(l, p);
    }
    return p;
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
        const results = await this.#append(envelopes, undefined, envelopes.length === 1 ? taken : undefined);
        if (taken.length > 0) this.#dispatcher!.adopt(taken);
        this.#afterCommit(envelopes, results);
        return results;
      })(),
    );
  }

  /** Appends (in `q`, a transaction, when given: `transaction()` has recorded the listeners before
   * opening it); with `taken` (single autocommit emits), idle local listeners claim in the append. */
  async #append(envelopes: Envelope[], q: Queryable | undefined, taken?: TakenDelivery[]): Promise<EmitResult[]> {
    if (this.#memory) return this.#memory.append(envelopes);
    if (!q) await this.#recorded();
    const { driver, tables } = this.#store!;
    const idle = taken && this.#o.worker.localTake ? this.#dispatcher!.idleListenerIds() : [];
    const take = idle.length > 0 ? { listenerIds: idle, leaseMs: this.#o.worker.leaseMs } : undefined;
    try {
      return await appendEvents(q ?? driver, tables, envelopes, take, taken);
    } catch (err) {
      throw isFeteError(err) ? err : FeteError.from(err, 'STORE_UNAVAILABLE');
    }
  }

  /** After a commit: run non-durable listeners of the new events, and hand the events to this
   * process's log tails (the fanout sends them without waiting for NOTIFY and a read). */
  #afterCommit(envelopes: readonly Envelope[], results: readonly EmitResult[]): void {
    const committed: Envelope[] | undefined = this.#commitHooks.size > 0 ? [] : undefined;
    for (let i = 0; i < envelopes.length; i++) {
      const r = results[i]!;
      if (r.duplicate) continue;
      const envelope = { ...envelopes[i]!, seq: r.seq };
      committed?.push(envelope);
      const listeners = this.#registry.inlineFor(envelope);
      if (listeners.length > 0) this.#inline.dispatch(envelope, listeners);
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
    const run = async (q: Queryable | undefined): Promise<R> => {
      const emitMany = async (items: ReadonlyArray<{ topic: unknown; payload: unknown } & EmitOptions>) => {
        const built = await Promise.all(items.map((i) => this.#build(i.topic, i.payload, i)));
        const r = await this.#append(built, q);
        envelopes.push(...built);
        results.push(...r);
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
    this.#afterCommit(envelopes, results);
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
      await Promise.allSettled([...this.#fanouts].map((f) => f.close()));
      // Handlers draining here may still emit; new work is refused only after they are done.
      if (this.#dispatcherState !== 'off') this.#dispatcherState = 'stopping';
      await this.#retention?.stop();
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
    return collectStats({
      store: this.#store,
      catalog: this.topics,
      registry: this.#registry,
      inline: this.#inline,
      memoryHead: this.#memory?.head,
    });
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
