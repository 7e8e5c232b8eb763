// The server's emit path: `fete.emit`/`emitMany` and `fete.transaction` admit items (ingress/),
// route them by delivery (log, live channel, latest values) and hand log events to the writer; an
// inline attempt's `ctx.emit` gets its own transaction (attempt-emits.ts).
import { type AnyTopic, type Envelope, FeteError, type TopicCatalog } from '../shared/index.js';
import type { Contexts } from './context/context-registry.js';
import { type AttemptEmits } from './dispatch/inline-dispatcher.js';
import { memoryAttemptEmits, storeAttemptEmits } from './dispatch/attempt-emits.js';
import { planDelivery } from './dispatch/delivery-plan.js';
import { admitServerEmit } from './ingress/admit-server.js';
import { type EmitRoute, type PendingLive, deferLiveEmits } from './ingress/emit-route.js';
import type { Lifecycle } from './lifecycle.js';
import type { EventLog } from './log/event-log.js';
import type { LogWriter } from './log/log-writer.js';
import { MemoryLog } from './log/memory-log.js';
import type { Registry } from './registry.js';
import type { TxHandle } from './store/driver.js';
import type { Store } from './store/open-store.js';
import type { EmitOptions, EmitResult, EmitResultOf, FeteTransaction, LoggedResult } from './types.js';

/** One item of `emitMany` (and of `tx.emitMany`), untyped past the public signatures. */
export type EmitItemArg = { topic: unknown; payload: unknown } & EmitOptions;
/** Appends envelopes that ingress admitted already (a command's `ctx.emit`). */
export type AppendAdmitted = (envelopes: Envelope[], options?: ReadonlyArray<EmitOptions | undefined>) => Promise<EmitResult[]>;

export interface EmitsDeps {
  topics: TopicCatalog;
  contexts: Contexts;
  maxEnvelopeBytes: number;
  log: EventLog;
  store: Store | undefined;
  registry: Registry;
  life: Lifecycle;
  /** Read on use: the writer and the route are wired after the dispatchers that emit through here. */
  readonly writer: LogWriter;
  readonly route: EmitRoute;
}

export class Emits<C extends TopicCatalog> {
  constructor(private readonly d: EmitsDeps) {}

  /** Admits one server emit: validates, stamps the contexts, builds the envelope. */
  build(topic: unknown, payload: unknown, options?: EmitOptions): Promise<Envelope> {
    const { topics: catalog, contexts, maxEnvelopeBytes } = this.d;
    return admitServerEmit({ catalog, contexts, maxEnvelopeBytes }, topic as AnyTopic, payload, options);
  }

  /** Admitted envelopes to the log, the live channel or the latest values, by topic delivery;
   * tracked, so `stop()` and `waitIdle()` wait for them. */
  route(envelopes: Envelope[], options?: ReadonlyArray<EmitOptions | undefined>): Promise<EmitResult[]> {
    return this.d.life.track(this.#route(envelopes, options));
  }

  #route(envelopes: Envelope[], options?: ReadonlyArray<EmitOptions | undefined>): Promise<EmitResult[]> {
    return this.d.route.emit(envelopes, options, (e, opts) => this.d.writer.emit(e, opts));
  }

  /** `fete.emit` / `fete.emitMany`: rejects with `CLOSED` once stopped. */
  emit(items: ReadonlyArray<EmitItemArg>): Promise<EmitResult[]> {
    if (this.d.life.closed) return Promise.reject(new FeteError('CLOSED', 'fete is stopped'));
    return this.d.life.track(Promise.all(items.map((i) => this.build(i.topic, i.payload, i))).then((envelopes) => this.#route(envelopes, items)));
  }

  /** `fete.transaction`, also handing `fn` the append of envelopes ingress admitted already (a
   * command's `ctx.emit` admits when called and appends when the handler returns: once). */
  transaction<R>(fn: (tx: FeteTransaction<C>, appendAdmitted: AppendAdmitted, q: Partial<TxHandle> | undefined) => Promise<R>): Promise<R> {
    this.d.life.assertOpen();
    const pending: PendingLive[] = [];
    const work = this.d.writer.transaction((append, q) => {
      const emitMany = async (items: ReadonlyArray<EmitItemArg>) =>
        this.d.route.inTransaction(await Promise.all(items.map((i) => this.build(i.topic, i.payload, i))), items, q, pending, append);
      const tx: FeteTransaction<C> = {
        query: (sql, params) => {
          if (!q) return Promise.reject(new FeteError('INVALID_OPTIONS', "tx.query needs a store; dispatch: 'inline' has none"));
          return q.query(sql, params);
        },
        emit: <T>(topic: T, payload: unknown, options?: EmitOptions) => emitMany([{ topic, payload, ...options }]).then((r) => r[0] as EmitResultOf<T>),
        emitMany: emitMany as FeteTransaction<C>['emitMany'],
      };
      // A command's emits, admitted before: routed like tx.emit's (a live topic's event never goes
      // to the log). The store's transaction handle where there is one (a Queryable from the log).
      const appendAdmitted: AppendAdmitted = (envelopes, options) => this.d.route.inTransaction(envelopes, options, q, pending, append);
      return fn(tx, appendAdmitted, q as Partial<TxHandle> | undefined);
    });
    // Live events of the transaction go out once it committed (none if it rolled back).
    return this.d.life.track(
      work.then(async (value) => {
        for (const p of pending) await p.publish();
        return value;
      }),
    );
  }

  /** The emit transaction of one inline attempt (attempt-emits.ts): what `ctx.emit` appends
   * becomes visible, and runs listeners, only when the attempt succeeds. */
  attemptEmits(): AttemptEmits {
    const build = (t: unknown, p: unknown, opts?: EmitOptions) => (this.d.life.assertOpen(), this.build(t, p, opts));
    return deferLiveEmits(this.#logAttemptEmits(build), this.d.topics, build, (envs, opts) => this.route(envs, opts));
  }

  #logAttemptEmits(build: (t: unknown, p: unknown, opts?: EmitOptions) => Promise<Envelope>): AttemptEmits {
    const deps = {
      build,
      afterCommit: (envs: Envelope[], results: LoggedResult[], opts: EmitOptions[]) => this.d.writer.committed(envs, results, opts),
    };
    const { log, store, registry } = this.d;
    if (log instanceof MemoryLog) return memoryAttemptEmits(log, deps);
    const { driver, tables } = store!;
    const durable = () => registry.all().filter((l) => l.options.durable);
    return storeAttemptEmits(driver, tables, { ...deps, plan: (e, opts) => planDelivery(e, opts, durable()) });
  }
}
