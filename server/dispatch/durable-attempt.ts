// One attempt of a durable delivery, from the claimed row to its recorded outcome.
//
// Transaction semantics. A handler that never touches `ctx.tx` or `ctx.emit` runs outside any
// transaction, and its completion goes to the group-commit Completer. The first use of either
// opens a transaction for the attempt (lazily: most handlers never pay for one); on success the
// delivery is completed inside it (`DELETE ... WHERE id AND lease_token`), and only if that row
// was still ours does it COMMIT: the handler's writes and emitted events become visible exactly
// when the delivery is done. If the lease was lost (rescued and claimed by another worker), or the
// handler failed, it rolls back: its writes and events vanish, and a retry starts clean. With the
// store being the app's own database, that makes a handler's effect happen exactly once.
//
// PGlite has one connection: while an attempt holds its transaction, every other query of the
// process (claims, heartbeats, other handlers' transactions, fete.emit) waits for it. Using the
// store any other way from such a handler would wait for itself, so the driver throws instead
// (pgliteTxScope; on PostgreSQL that scope is not entered at all).
//
// Cost. This runs once per delivery, so the common case allocates little: `ctx.signal`, `ctx.emit`
// and `ctx.tx` are made when first read, the timeout is the dispatcher's one timer per listener
// (`deadline` below), and a handler that returns without a promise and used no transaction is
// completed synchronously, with no promise at all. Measured on a 100,000-job drain of no-op
// handlers on PostgreSQL (claims of 200): node CPU went from 28.7 to ~11.5 ms per 1000 jobs.
import { checkHandlerSql } from '../store/handler-sql.js';
import createDebug from 'debug';
import { describeThrown } from '../../shared/describe-thrown.js';
import { type Envelope, FeteError, type TopicCatalog, isFeteError } from '../../shared/index.js';
import type { Contexts } from '../context/context-registry.js';
import type { RegisteredListener } from '../registry.js';
import type { Driver, QueryResult, TxHandle } from '../store/driver.js';
import { type Claimed, completeDelivery, failDelivery, releaseDeliveries } from '../store/delivery-queries.js';
import { type DeliveryPlan, appendEvents } from '../store/event-queries.js';
import type { Store } from '../store/open-store.js';
import { pgliteTxScope } from '../store/pglite-driver.js';
import type { EmitOptions, EmitResult, ListenerContext, LoggedResult, TxQuery } from '../types.js';
import type { FailureReport } from '../logger.js';
import type { StoreOutage } from '../store-outage.js';
import { AttemptAbort } from './attempt-abort.js';
import { backoffDelay } from './backoff.js';
import type { Completer } from './completer.js';
import { type AttemptSink, errorText, runAttempt } from './run-attempt.js';

const debug = createDebug('fete:dispatcher');

export interface AttemptDeps {
  store: Store;
  contexts: Contexts;
  completer: Completer;
  random: () => number;
  buildEnvelope(topic: unknown, payload: unknown, options?: EmitOptions): Promise<Envelope>;
  /** When the deliveries of an event emitted by a handler may run (delay, ordering keys). */
  plan?(envelope: Envelope, options: EmitOptions | undefined): DeliveryPlan | undefined;
  /** Runs after a commit that appended events (non-durable listeners, local hooks). */
  afterCommit(envelopes: Envelope[], results: LoggedResult[]): void;
  /** `ctx.emit` of topics that are not in the log (`volatile`, `latest`): kept out of the
   * attempt's transaction and sent once the attempt succeeded (ingress/emit-route.ts). */
  live?: { defers(topic: unknown): boolean; send(envelopes: Envelope[]): void };
  /** Counts how an attempt ended (workerStatus, /health, /metrics). */
  outcome?(listener: RegisteredListener, outcome: 'completed' | 'retried' | 'dead'): void;
  /** The operational log of a failed attempt (logger.ts), once per recorded failure. */
  failed?(report: FailureReport): void;
  /** Store reachability, for the outage and recovery log lines (claims and heartbeats report). */
  outage?: StoreOutage;
}

/** Who runs attempts: told once per attempt, when its outcome is recorded or handed to the
 * Completer (possibly synchronously, from inside `run`). */
export interface AttemptOwner {
  attemptDone(attempt: DurableAttempt): void;
  /** A retry of this listener was recorded to be due in `ms`: wake then, not at the next poll. */
  dueIn?(ms: number): void;
}

/** A transaction opened on first use; ended (no more queries) before commit or rollback. */
class LazyTx {
  #open: Promise<TxHandle> | undefined;
  #ended = false;
  /** `idleTimeoutMs`: on PostgreSQL the server ends the transaction if it sits idle this long.
   * A worker that freezes (SIGSTOP, a stuck event loop) mid-attempt would otherwise keep its row
   * locks forever and block the worker that was handed its rescued delivery. */
  constructor(
    private readonly driver: Driver,
    private readonly idleTimeoutMs: number,
  ) {}

  get holding(): boolean {
    return this.#open !== undefined && !this.#ended;
  }

  handle(): Promise<TxHandle> {
    if (this.#ended) return Promise.reject(new FeteError('CLOSED', 'this attempt is over: its transaction is closed'));
    this.#open ??= this.driver.begin({ idleTimeoutMs: this.idleTimeoutMs });
    return this.#open;
  }

  async end(): Promise<TxHandle | undefined> {
    this.#ended = true;
    return this.#open?.catch(() => undefined);
  }
}

/** The `ctx` a durable handler gets: `signal`, `emit` and `tx` are made when first read. */
class DurableContext implements ListenerContext<TopicCatalog, Envelope> {
  readonly envelope: Envelope;
  readonly attempt: number;
  readonly context: Record<string, unknown>;
  readonly #a: DurableAttempt;
  #emit: ListenerContext<TopicCatalog, Envelope>['emit'] | undefined;
  #tx: TxQuery | undefined;

  constructor(a: DurableAttempt) {
    this.#a = a;
    this.envelope = a.claimed.envelope;
    this.attempt = a.claimed.attempt;
    this.context = a.claimed.envelope.context;
  }

  get signal(): AbortSignal {
    return this.#a.abort.signal;
  }

  // Closures, not methods: handlers may destructure `{ emit, tx }` from ctx.
  get emit(): ListenerContext<TopicCatalog, Envelope>['emit'] {
    return (this.#emit ??= ((topic: unknown, payload: unknown, options?: EmitOptions) =>
      this.#a.emit(topic, payload, options)) as ListenerContext<TopicCatalog, Envelope>['emit']);
  }

  get tx(): TxQuery {
    return (this.#tx ??= { query: <R>(sql: string, params?: readonly unknown[]) => this.#a.query<R>(sql, params) });
  }
}

/** A rollback that fails (a broken connection) must not keep the failure from being recorded:
 * the transaction is gone either way, and the server discards it. */
async function rollbackQuietly(tx: TxHandle, deliveryId: number): Promise<void> {
  try {
    await tx.rollback();
  } catch (err) {
    debug('delivery %d: rollback failed: %s', deliveryId, describeThrown(err, { stack: false }));
  }
}

export class DurableAttempt implements AttemptSink {
  readonly abort = new AttemptAbort();
  /** performance.now() when the handler started. */
  startedAt = 0;
  /** performance.now() past which the running handler times out; Infinity when none is running
   * (not started yet, or settled and recording its outcome). */
  deadline = Infinity;
  #tx: LazyTx | undefined;
  #emitted: Envelope[] | undefined;
  /** Events of live topics the handler emitted, sent if the attempt succeeds. */
  #liveEmitted: Envelope[] | undefined;
  #results: LoggedResult[] | undefined;

  constructor(
    private readonly deps: AttemptDeps,
    readonly listener: RegisteredListener,
    readonly claimed: Claimed,
    private readonly owner: AttemptOwner,
  ) {}

  /** Runs the handler; the owner hears `attemptDone` once the outcome is recorded. */
  run(): void {
    this.startedAt = performance.now();
    this.deadline = this.startedAt + this.listener.options.timeoutMs;
    const ctx = new DurableContext(this);
    const { driver } = this.deps.store;
    if (driver.kind === 'pglite')
      pgliteTxScope.run({ driver, holding: () => this.#tx?.holding ?? false }, () =>
        runAttempt(this.listener.handler, ctx, this.deps.contexts, this.abort, this),
      );
    else runAttempt(this.listener.handler, ctx, this.deps.contexts, this.abort, this);
  }

  /** Dead-letters the delivery without running it: its attempts were used up by workers that
   * died mid-attempt (a poison event). */
  deadLetter(): void {
    const { driver, tables } = this.deps.store;
    const error = `attempts used up: the last ${this.claimed.attempt - 1} ended without an outcome (worker crashed or lease expired)`;
    failDelivery(driver, tables, this.claimed, { dead: true, delayMs: 0, error }).then(
      (ok) => {
        if (ok) {
          this.deps.outcome?.(this.listener, 'dead');
          this.deps.failed?.(this.#report(this.claimed.attempt - 1, error, { dead: true }));
        }
        this.owner.attemptDone(this);
      },
      (err: unknown) => {
        debug('dead-lettering %d failed: %s', this.claimed.id, describeThrown(err));
        this.owner.attemptDone(this);
      },
    );
  }

  /** The handler's outcome (AttemptSink). */
  settled(failed: boolean, error: unknown): void {
    this.deadline = Infinity;
    if (!failed && this.#tx === undefined) {
      // The common case: nothing to commit here; the Completer writes it with its neighbours.
      this.deps.completer.add(this.claimed);
      this.deps.outcome?.(this.listener, 'completed');
      if (this.#liveEmitted) this.deps.live?.send(this.#liveEmitted);
      this.owner.attemptDone(this);
      return;
    }
    (failed ? this.#failed(error) : this.#commit()).then(
      () => this.owner.attemptDone(this),
      (err: unknown) => {
        debug('delivery %d: ending the attempt failed: %s', this.claimed.id, describeThrown(err));
        this.owner.attemptDone(this);
      },
    );
  }

  #live(): void {
    if (this.abort.aborted) throw this.abort.reason;
  }

  #lazyTx(): LazyTx {
    // Past timeoutMs the attempt is abandoned and rolled back by us anyway; the margin covers the
    // completion statement itself.
    return (this.#tx ??= new LazyTx(this.deps.store.driver, this.listener.options.timeoutMs + 5000));
  }

  async emit(topic: unknown, payload: unknown, options?: EmitOptions): Promise<EmitResult> {
    this.#live();
    if (this.deps.live?.defers(topic)) {
      const envelope = await this.deps.buildEnvelope(topic, payload, options);
      (this.#liveEmitted ??= []).push(envelope);
      // Sent (and, for a latest value, given its version) only when the attempt commits.
      return { id: envelope.id, duplicate: false };
    }
    const tx = this.#lazyTx();
    const envelope = await this.deps.buildEnvelope(topic, payload, options);
    const plan = this.deps.plan?.(envelope, options);
    const [result] = await appendEvents(await tx.handle(), this.deps.store.tables, [envelope], undefined, undefined, [plan]);
    (this.#emitted ??= []).push(envelope);
    (this.#results ??= []).push(result!);
    return result!;
  }

  async query<R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    checkHandlerSql(sql);
    this.#live();
    return (await this.#lazyTx().handle()).query<R>(sql, params);
  }

  /** Success with a transaction: complete inside it, commit only if the lease was still ours. */
  async #commit(): Promise<void> {
    const { listener, claimed } = this;
    const tx = await this.#tx!.end();
    if (!tx) {
      this.deps.completer.add(claimed);
      this.deps.outcome?.(listener, 'completed');
      if (this.#liveEmitted) this.deps.live?.send(this.#liveEmitted);
      return;
    }
    try {
      if (!(await completeDelivery(tx, this.deps.store.tables, claimed))) {
        await tx.rollback();
        debug('%s/%s delivery %d: lease lost, the attempt is rolled back', listener.target, listener.name, claimed.id);
        return;
      }
      await tx.commit();
    } catch (err) {
      if (!tx.closed) await rollbackQuietly(tx, claimed.id);
      await this.#recordFailure(err);
      return;
    }
    this.deps.outcome?.(listener, 'completed');
    if (this.#emitted) this.deps.afterCommit(this.#emitted, this.#results!);
    if (this.#liveEmitted) this.deps.live?.send(this.#liveEmitted);
  }

  #report(attempt: number, error: unknown, end: { dead: true } | { dead: false; retryInMs: number }): FailureReport {
    const { listener, claimed } = this;
    const base = { listener, eventId: claimed.envelope.id, deliveryId: claimed.id, attempt, maxAttempts: listener.options.retries + 1, error };
    return { ...base, ...end };
  }

  async #failed(err: unknown): Promise<void> {
    const tx = await this.#tx?.end();
    if (tx) await rollbackQuietly(tx, this.claimed.id);
    await this.#recordFailure(err);
  }

  async #recordFailure(err: unknown): Promise<void> {
    const { deps, listener, claimed } = this;
    const { driver, tables } = deps.store;
    const reason: unknown = this.abort.aborted ? this.abort.reason : undefined;
    try {
      if (isFeteError(reason, 'LEASE_LOST')) return; // someone else owns it now
      if (isFeteError(reason, 'CLOSED')) {
        // Stopped without draining: not the handler's fault, so the attempt is given back.
        await releaseDeliveries(driver, tables, [claimed], true);
        return;
      }
      const dead = claimed.attempt >= listener.options.retries + 1;
      const delayMs = dead ? 0 : backoffDelay(claimed.attempt, listener.options.backoff, deps.random);
      // The text is made before anything else can throw: whatever was thrown, the failure is recorded.
      const error = errorText(err);
      debug('%s/%s delivery %d attempt %d failed%s: %s', listener.target, listener.name, claimed.id, claimed.attempt,
        dead ? ' (dead)' : `, retry in ${delayMs} ms`, error);
      const ok = await failDelivery(driver, tables, claimed, { dead, delayMs, error });
      if (!ok) debug('delivery %d: failure not recorded, the lease was lost', claimed.id);
      else {
        deps.outcome?.(listener, dead ? 'dead' : 'retried');
        if (!dead) this.owner.dueIn?.(delayMs);
        deps.failed?.(this.#report(claimed.attempt, err, dead ? { dead: true } : { dead: false, retryInMs: delayMs }));
      }
    } catch (storeErr) {
      // The lease runs out and the delivery is rescued: the attempt is counted, nothing is lost.
      debug('delivery %d: recording the outcome failed: %s', claimed.id, describeThrown(storeErr));
    }
  }
}
