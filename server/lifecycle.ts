// A fete's lifecycle: open, started, stopping, closed. Owns the order in which `start()` brings the
// parts up and `stop()` takes them down, the promises still in flight (`stop()` and `waitIdle()`
// wait for them) and the CLOSED checks every public call makes.
import { FeteError } from '../shared/index.js';
import type { Parts } from './assemble.js';
import { MemoryLog } from './log/memory-log.js';
import { StoreLog } from './log/store-log.js';
import { type WaitIdleOptions, waitIdle } from './wait-idle.js';
import type { DispatcherState } from './types.js';

/** The parts start/stop order; the emit path is not among them (its `C` does not matter here). */
type LifeParts = Omit<Parts, 'emits'>;

export class Lifecycle {
  /** What the durable dispatcher is doing (`fete.workerStatus()`); set once the parts are wired. */
  dispatcherState: DispatcherState = 'off';
  readonly #inflight = new Set<Promise<unknown>>();
  #started: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #closed = false;

  /** True once `start()` was called. */
  get started(): boolean {
    return this.#started !== undefined;
  }

  /** True once `stop()` was called (and ever after). */
  get stopping(): boolean {
    return this.#stopping !== undefined;
  }

  /** True once stop has drained the handlers: nothing new is accepted. */
  get closed(): boolean {
    return this.#closed;
  }

  /** @throws FeteError `CLOSED` once stop has drained the handlers. */
  assertOpen(): void {
    if (this.#closed) throw new FeteError('CLOSED', 'fete is stopped');
  }

  /** For calls that add work (listeners, schedules, sockets): @throws FeteError `CLOSED` once `stop()` was called. */
  assertAccepting(): void {
    if (this.#closed || this.#stopping) throw new FeteError('CLOSED', 'fete is stopped');
  }

  /** Keeps `p` in flight until it settles: `stop()` waits for it, `waitIdle()` counts it. */
  track<T>(p: Promise<T>): Promise<T> {
    this.#inflight.add(p);
    const done = () => this.#inflight.delete(p);
    void p.then(done, done);
    return p;
  }

  /** `fete.waitIdle()`: until nothing is in flight, in the inline dispatcher or in the store. */
  waitIdle(p: LifeParts, options: WaitIdleOptions): Promise<void> {
    this.assertOpen();
    return waitIdle(
      {
        inflight: () => this.#inflight.size,
        inline: (horizon: number) => p.inline.idle(horizon),
        local: () => p.dispatcher?.busy() ?? false,
        store: p.store,
        orphanAfterMs: p.o.listeners.orphanAfterMs,
      },
      options,
    );
  }

  /** `fete.start()`: records the durable listeners, starts commands and, on a worker, the dispatcher,
   * retention and schedules. Idempotent: later calls return the first call's promise. */
  start(p: LifeParts): Promise<void> {
    this.assertOpen();
    this.#started ??= this.track(
      (async () => {
        await p.listeners?.recorded();
        await p.commands.start();
        if (p.dispatcher && p.log instanceof StoreLog && p.o.roles.includes('worker')) {
          const dispatcher = p.dispatcher;
          await p.log.notifier.subscribe((w) => dispatcher.wake(w.listenerIds));
          await dispatcher.start();
          this.dispatcherState = 'running';
          p.retention?.start();
        }
        if (p.log instanceof MemoryLog || p.o.roles.includes('worker')) p.scheduler.start();
      })(),
    );
    return this.#started;
  }

  /** `fete.stop()`: doors first, then the work that drains (with `drain`, handlers finish), then
   * the log and the store. Idempotent: later calls return the first call's promise. */
  stop(p: LifeParts, drain: boolean): Promise<void> {
    this.#stopping ??= (async () => {
      await this.#started?.catch(() => undefined);
      p.noWorker?.stop();
      // Sockets first: no new subscription or client emit arrives while the rest shuts down.
      await p.doors.closeAll();
      // After the sockets (their leaves are written), before the store: this node's rows go.
      await p.presence.close();
      await p.scheduler.stop();
      // Handlers draining here may still emit; new work is refused only after they are done.
      if (this.dispatcherState !== 'off') this.dispatcherState = 'stopping';
      await p.retention?.stop();
      await p.heartbeat?.stop();
      await p.dispatcher?.stop(drain);
      if (this.dispatcherState !== 'off') this.dispatcherState = 'stopped';
      await p.inline.stop(drain);
      await p.commands.stop();
      this.#closed = true;
      await Promise.allSettled([...this.#inflight]);
      await p.live.close();
      await p.bus?.close(); // after the last commits: their events are published first
      await p.log.close();
      await p.store?.close();
    })();
    return this.#stopping;
  }
}
