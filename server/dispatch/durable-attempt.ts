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
// (pgliteTxScope).
import createDebug from 'debug';
import { type Envelope, FeteError, type TopicCatalog, isFeteError } from '../../shared/index.js';
import type { Contexts } from '../context/context-registry.js';
import type { RegisteredListener } from '../registry.js';
import type { Driver, TxHandle } from '../store/driver.js';
import { type Claimed, completeDelivery, failDelivery, releaseDeliveries } from '../store/delivery-queries.js';
import { appendEvents } from '../store/event-queries.js';
import type { Store } from '../store/open-store.js';
import { pgliteTxScope } from '../store/pglite-driver.js';
import type { EmitOptions, EmitResult, ListenerContext } from '../types.js';
import { backoffDelay } from './backoff.js';
import type { Completer } from './completer.js';
import { errorText, runAttempt } from './run-attempt.js';

const debug = createDebug('fete:dispatcher');

export interface AttemptDeps {
  store: Store;
  contexts: Contexts;
  completer: Completer;
  random: () => number;
  buildEnvelope(topic: unknown, payload: unknown, options?: EmitOptions): Promise<Envelope>;
  /** Runs after a commit that appended events (non-durable listeners, local hooks). */
  afterCommit(envelopes: Envelope[], results: EmitResult[]): void;
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

export async function attemptDelivery(
  deps: AttemptDeps,
  listener: RegisteredListener,
  claimed: Claimed,
  controller: AbortController,
): Promise<void> {
  const { driver, tables } = deps.store;
  const lease = { id: claimed.id, token: claimed.token };
  // Past timeoutMs the attempt is abandoned and rolled back by us anyway; the margin covers the
  // completion statement itself.
  const lazy = new LazyTx(driver, listener.options.timeoutMs + 5000);
  const emitted: Envelope[] = [];
  const results: EmitResult[] = [];
  const live = () => {
    if (controller.signal.aborted) throw controller.signal.reason;
  };
  const emit = async (topic: unknown, payload: unknown, options?: EmitOptions): Promise<EmitResult> => {
    live();
    const envelope = await deps.buildEnvelope(topic, payload, options);
    const [result] = await appendEvents(await lazy.handle(), tables, [envelope]);
    emitted.push(envelope);
    results.push(result!);
    return result!;
  };
  const ctx: ListenerContext<TopicCatalog, Envelope> = {
    envelope: claimed.envelope,
    attempt: claimed.attempt,
    signal: controller.signal,
    context: claimed.envelope.context,
    emit: emit as ListenerContext<TopicCatalog, Envelope>['emit'],
    tx: {
      async query(sql, params) {
        live();
        return (await lazy.handle()).query(sql, params);
      },
    },
  };
  try {
    await pgliteTxScope.run({ driver, holding: () => lazy.holding }, () =>
      runAttempt(listener.handler, ctx, deps.contexts, controller, listener.options.timeoutMs),
    );
  } catch (err) {
    await (await lazy.end())?.rollback();
    await recordFailure(deps, listener, claimed, controller, err);
    return;
  }

  const tx = await lazy.end();
  if (!tx) {
    deps.completer.add(lease);
    return;
  }
  try {
    if (!(await completeDelivery(tx, tables, lease))) {
      await tx.rollback();
      debug('%s/%s delivery %d: lease lost, the attempt is rolled back', listener.target, listener.name, claimed.id);
      return;
    }
    await tx.commit();
  } catch (err) {
    if (!tx.closed) await tx.rollback();
    await recordFailure(deps, listener, claimed, controller, err);
    return;
  }
  if (emitted.length > 0) deps.afterCommit(emitted, results);
}

async function recordFailure(
  deps: AttemptDeps,
  listener: RegisteredListener,
  claimed: Claimed,
  controller: AbortController,
  err: unknown,
): Promise<void> {
  const { driver, tables } = deps.store;
  const lease = { id: claimed.id, token: claimed.token };
  const reason: unknown = controller.signal.aborted ? controller.signal.reason : undefined;
  try {
    if (isFeteError(reason, 'LEASE_LOST')) return; // someone else owns it now
    if (isFeteError(reason, 'CLOSED')) {
      // Stopped without draining: not the handler's fault, so the attempt is given back.
      await releaseDeliveries(driver, tables, [lease], true);
      return;
    }
    const dead = claimed.attempt >= listener.options.retries + 1;
    const delayMs = dead ? 0 : backoffDelay(claimed.attempt, listener.options.backoff, deps.random);
    debug('%s/%s delivery %d attempt %d failed%s: %s', listener.target, listener.name, claimed.id, claimed.attempt,
      dead ? ' (dead)' : `, retry in ${delayMs} ms`, (err as Error)?.message ?? err);
    const ok = await failDelivery(driver, tables, lease, { dead, delayMs, error: errorText(err) });
    if (!ok) debug('delivery %d: failure not recorded, the lease was lost', claimed.id);
  } catch (storeErr) {
    // The lease runs out and the delivery is rescued: the attempt is counted, nothing is lost.
    debug('delivery %d: recording the outcome failed: %s', claimed.id, (storeErr as Error).message);
  }
}
