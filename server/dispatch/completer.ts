// Group commit of completions: handlers that finish close together are completed by one DELETE
// over unnest(ids, tokens) instead of one statement each. There is no timer: the first completion
// waits one turn of the event loop (setImmediate) for its neighbours, and completions arriving
// while a batch is being written form the next batch, so batches grow exactly as fast as the
// store falls behind and a lone completion costs one statement, at once.
//
// A batch whose write fails (a dropped connection, a failover) is written again after a short
// backoff, up to WRITE_TRIES times, its leases still extended by the heartbeat meanwhile; then it
// is given up and its leases run out, so the rescuer re-offers those deliveries (they run again:
// at least once) instead of leaving them `running`.
import createDebug from 'debug';
import { describeThrown } from '../../shared/describe-thrown.js';
import { completeDeliveries, type Lease } from '../store/delivery-queries.js';
import type { Store } from '../store/open-store.js';

const debug = createDebug('fete:dispatcher');
/** Writes of one completion before it is left to the rescuer; waits of 100, 200, 400, 800 ms. */
const WRITE_TRIES = 5;

export class Completer {
  #pending: Lease[] = [];
  #running: Promise<void> | undefined;
  /** Failed writes so far, of leases whose completion failed at least once. */
  readonly #failures = new Map<Lease, number>();
  /** Completions written, and completions refused because the lease had moved on. */
  completed = 0;
  lost = 0;

  /** Called when the backlog of unwritten completions falls below one batch again. */
  onRelief: () => void = () => undefined;

  /** Called after each batch is written, with its leases (keyed deliveries unblock their key). */
  onWritten: (leases: readonly Lease[]) => void = () => undefined;

  constructor(
    private readonly store: Store,
    private readonly batchSize: number,
  ) {}

  /** True while a batch or more of completions waits to be written: workers should not claim
   * more until it is written, or a store slower than the handlers would let this list (and the
   * leases every heartbeat extends) grow without bound. */
  get congested(): boolean {
    return this.#pending.length >= this.batchSize;
  }

  add(lease: Lease): void {
    this.#pending.push(lease);
    this.#running ??= this.#drain();
  }

  /** Leases waiting to be written (still held: the heartbeat keeps extending them). */
  pendingLeases(): readonly Lease[] {
    return this.#pending;
  }

  async #drain(): Promise<void> {
    while (this.#pending.length > 0) {
      // A turn of the event loop before each batch: neighbours join it, and on PGlite (no real
      // I/O) timers and sockets get to run between batches.
      await new Promise((r) => setImmediate(r));
      const wasCongested = this.congested;
      const batch = this.#pending.splice(0, this.batchSize);
      try {
        const done = await completeDeliveries(this.store.driver, this.store.tables, batch);
        this.completed += done.size;
        if (done.size < batch.length) {
          this.lost += batch.length - done.size;
          debug('%d completions refused: their leases were rescued and re-claimed', batch.length - done.size);
        }
        if (this.#failures.size > 0) for (const l of batch) this.#failures.delete(l);
      } catch (err) {
        await this.#retryLater(batch, err);
      }
      this.onWritten(batch);
      if (wasCongested && !this.congested) this.onRelief();
    }
    this.#running = undefined;
  }

  /** Puts a batch whose write failed back in front, after a wait; gives up on leases that failed
   * WRITE_TRIES times (they expire and are rescued). */
  async #retryLater(batch: Lease[], err: unknown): Promise<void> {
    const again: Lease[] = [];
    let tries = 0;
    for (const l of batch) {
      const n = (this.#failures.get(l) ?? 0) + 1;
      tries = Math.max(tries, n);
      if (n < WRITE_TRIES) {
        this.#failures.set(l, n);
        again.push(l);
      } else this.#failures.delete(l);
    }
    debug('completing %d deliveries failed (%s); %d written again, %d left to the rescuer', batch.length,
      describeThrown(err, { stack: false }), again.length, batch.length - again.length);
    if (again.length === 0) return;
    this.#pending.unshift(...again);
    await new Promise((r) => setTimeout(r, 100 * 2 ** (tries - 1)));
  }

  /** Resolves when every completion added so far is written (or given up). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }
}
