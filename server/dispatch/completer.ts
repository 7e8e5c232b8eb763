// Group commit of completions: handlers that finish close together are completed by one DELETE
// over unnest(ids, tokens) instead of one statement each. There is no timer: the first completion
// waits one turn of the event loop (setImmediate) for its neighbours, and completions arriving
// while a batch is being written form the next batch, so batches grow exactly as fast as the
// store falls behind and a lone completion costs one statement, at once.
import createDebug from 'debug';
import { completeDeliveries, type Lease } from '../store/delivery-queries.js';
import type { Store } from '../store/open-store.js';

const debug = createDebug('fete:dispatcher');

export class Completer {
  #pending: Lease[] = [];
  #running: Promise<void> | undefined;
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
      } catch (err) {
        // The deliveries stay running; their leases expire and they run again (at least once).
        debug('completing %d deliveries failed: %s', batch.length, (err as Error).message);
      }
      this.onWritten(batch);
      if (wasCongested && !this.congested) this.onRelief();
    }
    this.#running = undefined;
  }

  /** Resolves when every completion added so far is written. */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }
}
