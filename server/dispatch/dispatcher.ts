// The durable dispatcher of one process: for each durable listener registered here it claims
// deliveries in batches, runs up to `concurrency` attempts at once, times them out with one timer
// per listener, heartbeats the leases it holds, rescues expired leases of dead workers, and hands
// completions to the group commit.
//
// Wake-up: a NOTIFY after each append names the listeners that got deliveries; a listener claims
// at once when woken, again straight away while claims come back full, and otherwise every
// `pollIntervalMs` (a missed notification, a retry coming due). At most one claim per listener is
// in flight; a wake-up during a claim is remembered, so no notification is lost between the
// claim's snapshot and its return. (Two claims in flight, or a claim sent while half the last
// batch still waited, drained no faster on PostgreSQL here: each claim took correspondingly
// longer. Draining no-op handlers is bound by the claim: ~1 ms plus ~11 us a row.)
//
// Due times. Deliveries that are not due yet (delayed emits, retries in backoff) are woken by one
// timer per listener (due-timer.ts), not by the poll: a short claim says when the listener's next
// pending delivery is due, and a failure recorded here knows its retry's delay. Keyed deliveries
// (ordering keys) blocked behind a running one are woken when that one ends in this process.
import createDebug from 'debug';
import { describeThrown } from '../../shared/describe-thrown.js';
import { FeteError } from '../../shared/index.js';
import type { WorkerOptions } from '../options.js';
import type { RegisteredListener } from '../registry.js';
import {
  type Claimed,
  claimBatch,
  heartbeatDeliveries,
  type Lease,
  notifyWake,
  releaseAllRunning,
  releaseDeliveries,
  rescueExpired,
} from '../store/delivery-queries.js';
import type { TakenDelivery } from '../store/event-queries.js';
import { timeoutError } from './attempt-abort.js';
import { DeadlineTimer } from './deadline-timer.js';
import { DueTimer } from './due-timer.js';
import { type AttemptDeps, type AttemptOwner, DurableAttempt } from './durable-attempt.js';
import { turnIfBusy } from './event-loop-turn.js';

const debug = createDebug('fete:dispatcher');
const PREFETCH_WINDOW_MS = 50;

class ListenerRunner implements AttemptOwner {
  readonly queue: Claimed[] = [];
  /** Attempts started and not yet done, by delivery id, in start order. */
  readonly running = new Map<number, DurableAttempt>();
  readonly deadlines: DeadlineTimer;
  /** Wakes the runner when its next not-yet-due delivery comes due. */
  readonly due: DueTimer;
  /** Removed by `fete.off`: claims nothing more; running attempts finish. */
  removed = false;
  claiming: Promise<void> | undefined;
  wanted = true;
  wakes = 0;
  /** Moving average of attempt durations (ms), for the adaptive prefetch. */
  avgMs: number | undefined;
  /** #pump is running (see there). */
  pumping = false;
  repump = false;
  constructor(
    readonly listener: RegisteredListener,
    readonly id: number,
    private readonly done: (r: ListenerRunner, a: DurableAttempt) => void,
    wake: (r: ListenerRunner) => void,
  ) {
    this.deadlines = new DeadlineTimer((now) => this.#expire(now));
    this.due = new DueTimer(() => wake(this));
  }

  attemptDone(a: DurableAttempt): void {
    this.done(this, a);
  }

  dueIn(ms: number): void {
    this.due.at(ms);
  }

  /** Aborts the handlers past their deadline; the next deadline ahead (running.size <= concurrency). */
  #expire(now: number): number {
    let next = Infinity;
    for (const a of this.running.values()) {
      if (a.deadline <= now) a.abort.abort(timeoutError(a.claimed.attempt, this.listener.options.timeoutMs));
      else if (a.deadline < next) next = a.deadline;
    }
    return next;
  }
}

export class Dispatcher {
  readonly #runners = new Map<number, ListenerRunner>();
  readonly #timers: NodeJS.Timeout[] = [];
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #started = false;
  #stopping = false;
  #heartbeating: Promise<void> | undefined;
  /** performance.now() when the last heartbeat ended (or the dispatcher started). */
  #lastHeartbeat = 0;
  #rescuing = false;
  /** Set by stop(): called once no attempt runs any more. */
  #onAllDone: (() => void) | undefined;

  constructor(
    private readonly deps: AttemptDeps,
    private readonly options: Required<WorkerOptions>,
  ) {
    deps.completer.onRelief = () => {
      for (const r of this.#runners.values()) this.#pump(r);
    };
    // A completed keyed delivery may unblock the next one of its key: claim again once written.
    deps.completer.onWritten = (leases) => {
      const ids = new Set<number>();
      for (const l of leases) if ((l as Claimed).orderKey !== undefined) ids.add((l as Claimed).listenerId);
      if (ids.size > 0) this.wake([...ids]);
    };
  }

  /** Adds a durable listener that has its store id; runs it once started. */
  add(listener: RegisteredListener): void {
    if (listener.storeId === undefined || this.#runners.has(listener.storeId)) return;
    const runner = new ListenerRunner(listener, listener.storeId, (r, a) => this.#attemptDone(r, a), (r) => this.#wakeRunner(r));
    this.#runners.set(runner.id, runner);
    if (this.#started) this.#pump(runner);
  }

  /** Stops running a listener in this process (`fete.off`): it claims nothing more, deliveries it
   * claimed but did not start are given back, and its running attempts finish and are recorded. */
  async remove(storeId: number): Promise<void> {
    const r = this.#runners.get(storeId);
    if (!r) return;
    r.removed = true;
    r.due.clear();
    this.#runners.delete(storeId);
    await r.claiming;
    const unstarted = r.queue.splice(0);
    const { driver, tables } = this.deps.store;
    const ids = await releaseDeliveries(driver, tables, unstarted, true).catch(() => []);
    // Other processes that run this listener take them over.
    if (ids.length > 0) await notifyWake(driver, tables, ids).catch(() => undefined);
  }

  /** Deliveries queued, running or claiming in this process (waitIdle's local part). */
  busy(): boolean {
    for (const r of this.#runners.values()) if (r.queue.length > 0 || r.running.size > 0 || r.claiming) return true;
    return this.deps.completer.pendingLeases().length > 0;
  }

  async start(): Promise<void> {
    if (this.#started) return;
    const { driver, tables } = this.deps.store;
    if (driver.kind === 'pglite') {
      // One process owns an embedded store (the directory lock), so running rows belong to a
      // previous process that ended without finishing them: re-offer them now, not after a lease.
      const released = await releaseAllRunning(driver, tables);
      if (released.length > 0) debug('re-offered %d deliveries left running by a previous process', released.length);
    }
    this.#started = true;
    this.#lastHeartbeat = performance.now();
    const o = this.options;
    // The poll timer keeps a worker process alive; the others do not.
    this.#timers.push(setInterval(() => this.wake(), o.pollIntervalMs));
    // Heartbeats go on while stop() drains, so draining attempts keep their leases.
    this.#heartbeatTimer = setInterval(() => void this.#heartbeat(), o.heartbeatMs).unref();
    if (o.rescueIntervalMs > 0) this.#timers.push(setInterval(() => void this.#rescue(), o.rescueIntervalMs).unref());
    this.wake();
  }

  /** Claims for these listeners (all when omitted) as soon as they have room. */
  wake(listenerIds?: readonly number[]): void {
    if (!this.#started || this.#stopping) return;
    if (listenerIds === undefined) for (const r of this.#runners.values()) this.#wakeRunner(r);
    else
      for (const id of listenerIds) {
        const r = this.#runners.get(id);
        if (r) this.#wakeRunner(r);
      }
  }

  #wakeRunner(r: ListenerRunner): void {
    if (!this.#started || this.#stopping || r.removed) return;
    r.wanted = true;
    r.wakes++;
    this.#pump(r);
  }

  /**
   * How many deliveries to hold beyond the running ones. Fast handlers need a deep local queue
   * (each claim is a round trip: with 24 no-op handlers, prefetch 24 drained 12,800/s here and
   * prefetch 300 18,100/s); slow ones must not hoard leases other processes could run. So, unless
   * set, hold about PREFETCH_WINDOW_MS of work at the measured attempt duration.
   */
  #prefetch(r: ListenerRunner): number {
    const { concurrency, prefetch } = r.listener.options;
    if (prefetch !== undefined) return prefetch;
    if (r.avgMs === undefined) return concurrency;
    const byTime = Math.round((concurrency * PREFETCH_WINDOW_MS) / Math.max(r.avgMs, 0.01));
    return Math.max(concurrency, Math.min(this.options.claimBatchSize, byTime));
  }

  /** Starts queued deliveries while slots are free, then claims more if there is room. A handler
   * that returns at once ends its attempt inside this loop (attemptDone -> #pump), so re-entry
   * only asks the running loop to go round again: a backlog of such handlers runs as one flat
   * loop, not a recursion as deep as the queue. */
  #pump(r: ListenerRunner): void {
    if (this.#stopping || r.removed) return;
    if (r.pumping) {
      r.repump = true;
      return;
    }
    r.pumping = true;
    try {
      const { concurrency } = r.listener.options;
      do {
        r.repump = false;
        while (r.queue.length > 0 && r.running.size < concurrency) this.#startAttempt(r, r.queue.shift()!);
      } while (r.repump);
      this.#maybeClaim(r);
    } finally {
      r.pumping = false;
    }
  }

  /** Claims if none is in flight and there is room for at least half a window: fewer, fuller claims. */
  #maybeClaim(r: ListenerRunner): void {
    if (r.claiming || !r.wanted || this.deps.completer.congested) return;
    const capacity = r.listener.options.concurrency + this.#prefetch(r);
    const room = capacity - r.queue.length - r.running.size;
    const batch = this.options.claimBatchSize;
    if (room <= 0 || room < Math.min(batch, Math.ceil(capacity / 2))) return;
    const wakes = r.wakes;
    const limit = Math.min(room, batch);
    const busy = turnIfBusy();
    r.claiming = busy ? busy.then(() => this.#claim(r, limit, wakes)) : this.#claim(r, limit, wakes);
  }

  async #claim(r: ListenerRunner, limit: number, wakes: number): Promise<void> {
    const { driver, tables } = this.deps.store;
    let claimed: Claimed[] = [];
    try {
      const batch = await claimBatch(driver, tables, r.id, limit, this.options.leaseMs);
      claimed = batch.claimed;
      if (batch.nextDueMs !== undefined) r.due.at(batch.nextDueMs);
      this.deps.outage?.ok();
    } catch (err) {
      debug('claim for %s/%s failed: %s', r.listener.target, r.listener.name, describeThrown(err, { stack: false }));
      if (!this.#stopping) this.deps.outage?.failed('claim', err);
    }
    // A short batch means the backlog is empty unless a wake-up came in meanwhile.
    if (claimed.length < limit && r.wakes === wakes) r.wanted = false;
    r.claiming = undefined;
    if (this.#stopping || r.removed) {
      await releaseDeliveries(driver, tables, claimed, true).catch(() => undefined);
      return;
    }
    for (const c of claimed) r.queue.push(c);
    this.#pump(r);
  }

  #startAttempt(r: ListenerRunner, claimed: Claimed): void {
    const a = new DurableAttempt(this.deps, r.listener, claimed, r);
    r.running.set(claimed.id, a);
    if (claimed.attempt > r.listener.options.retries + 1) return a.deadLetter();
    const busy = turnIfBusy();
    if (busy) void busy.then(() => this.#run(r, a));
    else this.#run(r, a);
  }

  #run(r: ListenerRunner, a: DurableAttempt): void {
    a.run();
    // Still running (it returned a promise): its deadline is watched.
    if (a.deadline !== Infinity) r.deadlines.watch(a.deadline);
  }

  #attemptDone(r: ListenerRunner, a: DurableAttempt): void {
    r.running.delete(a.claimed.id);
    // Its key's next delivery may be claimable now (ended in a transaction, or failed).
    if (a.claimed.orderKey !== undefined) r.wanted = true;
    if (a.startedAt > 0) {
      const ms = performance.now() - a.startedAt;
      r.avgMs = r.avgMs === undefined ? ms : r.avgMs * 0.9 + ms * 0.1;
    }
    if (r.running.size === 0) {
      r.deadlines.idle();
      if (this.#onAllDone && this.#noneRunning()) {
        const done = this.#onAllDone;
        this.#onAllDone = undefined;
        done();
      }
    }
    this.#pump(r);
  }

  #noneRunning(): boolean {
    for (const r of this.#runners.values()) if (r.running.size > 0) return false;
    return true;
  }

  /** Extends the leases of everything held; aborts attempts whose lease moved on. One at a time:
   * a call while one runs waits for that one. */
  #heartbeat(): Promise<void> {
    return (this.#heartbeating ??= this.#beat().finally(() => {
      this.#heartbeating = undefined;
      this.#lastHeartbeat = performance.now();
    }));
  }

  async #beat(): Promise<void> {
    try {
      const leases: Lease[] = [...this.deps.completer.pendingLeases()];
      for (const r of this.#runners.values()) {
        for (const c of r.queue) leases.push(c);
        for (const a of r.running.values()) leases.push(a.claimed);
      }
      if (leases.length === 0) return;
      const { driver, tables } = this.deps.store;
      const kept = await heartbeatDeliveries(driver, tables, leases.map((l) => ({ id: l.id, token: l.token })), this.options.leaseMs);
      this.deps.outage?.ok();
      if (kept.size === leases.length) return;
      // Only the leases this heartbeat carried are judged, by identity: while it ran, a failed
      // attempt may have been retried here under a new lease of the same delivery id, and claims
      // may have queued new leases. Judged by id alone, those were aborted or dropped though
      // valid, and then sat `running` until their lease expired (an extra attempt, and on a
      // store without a rescuer, forever).
      const sent = new Set<Lease>(leases);
      const lost = (l: Lease) => sent.has(l) && !kept.has(l.id);
      for (const r of this.#runners.values()) {
        for (let i = r.queue.length - 1; i >= 0; i--) if (lost(r.queue[i]!)) r.queue.splice(i, 1);
        for (const a of r.running.values())
          if (lost(a.claimed)) a.abort.abort(new FeteError('LEASE_LOST', `the lease of delivery ${a.claimed.id} expired and was re-offered`));
      }
    } catch (err) {
      debug('heartbeat failed: %s', describeThrown(err, { stack: false }));
      if (!this.#stopping) this.deps.outage?.failed('heartbeat', err);
    }
  }

  /**
   * Re-offers deliveries whose lease expired (their worker died or stalled, or their completion
   * was lost) and wakes workers. Runs on both engines: on PGlite every lease belongs to this
   * process, yet one still expires when the event loop stalled past it or a completion could not
   * be written, and without a rescuer it would stay `running` for the life of the process.
   *
   * After a stall, this timer and the heartbeat's fire together in either order. So when the last
   * heartbeat is old enough for a lease held here to be near its end (half a lease, or one
   * heartbeat interval if that is longer: not after every ordinary beat), this process's own
   * leases are extended first: an attempt still running here is not taken from it (on PGlite,
   * where nobody else could have run it, that would only run it twice).
   */
  async #rescue(): Promise<void> {
    if (this.#rescuing || this.#stopping) return;
    this.#rescuing = true;
    try {
      const { heartbeatMs, leaseMs } = this.options;
      if (performance.now() - this.#lastHeartbeat > Math.max(heartbeatMs, leaseMs / 2)) await this.#heartbeat();
      if (this.#stopping) return;
      const { driver, tables } = this.deps.store;
      const ids = await rescueExpired(driver, tables, 1000);
      if (ids.length > 0) {
        debug('rescued %d deliveries with expired leases', ids.length);
        await notifyWake(driver, tables, ids);
      }
    } catch (err) {
      debug('rescue failed: %s', describeThrown(err, { stack: false }));
    } finally {
      this.#rescuing = false;
    }
  }

  /**
   * Listeners that would start a new delivery this instant: started, with nothing queued, no
   * claim in flight, no known backlog, and a free slot. A single emit in this process claims its
   * deliveries for these in the append itself (local take, see event-queries.ts).
   */
  idleListenerIds(): number[] {
    const out: number[] = [];
    if (!this.#started || this.#stopping) return out;
    for (const r of this.#runners.values())
      if (r.queue.length === 0 && !r.claiming && !r.wanted && r.running.size < r.listener.options.concurrency) out.push(r.id);
    return out;
  }

  /** Starts deliveries claimed by a local append (after its commit). */
  adopt(taken: readonly TakenDelivery[]): void {
    for (const t of taken) {
      const r = this.#runners.get(t.listenerId);
      const claimed: Claimed = { id: t.id, listenerId: t.listenerId, attempt: 1, token: t.token, envelope: t.envelope };
      if (!r || this.#stopping) {
        const { driver, tables } = this.deps.store;
        void releaseDeliveries(driver, tables, [claimed], true).catch((err: unknown) => debug('release failed: %s', describeThrown(err, { stack: false })));
        continue;
      }
      r.queue.push(claimed);
      this.#pump(r);
    }
  }

  /** Stops claiming; releases claimed work not started; drains or aborts running attempts. */
  async stop(drain: boolean): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    for (const t of this.#timers) clearInterval(t);
    for (const r of this.#runners.values()) r.due.clear();
    const { driver, tables } = this.deps.store;
    await Promise.all([...this.#runners.values()].map((r) => r.claiming));
    const unstarted: Lease[] = [];
    for (const r of this.#runners.values()) unstarted.push(...r.queue.splice(0));
    const running = [...this.#runners.values()].flatMap((r) => [...r.running.values()]);
    if (!drain) for (const a of running) a.abort.abort(new FeteError('CLOSED', 'fete is stopping without draining'));
    const allDone = this.#noneRunning() ? undefined : new Promise<void>((resolve) => (this.#onAllDone = resolve));
    await Promise.all([
      releaseDeliveries(driver, tables, unstarted, true).catch((err: unknown) => debug('release failed: %s', describeThrown(err, { stack: false }))),
      allDone,
    ]);
    await this.deps.completer.idle();
    clearInterval(this.#heartbeatTimer);
    for (const r of this.#runners.values()) r.deadlines.idle();
  }
}
