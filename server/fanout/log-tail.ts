// One process's tail of the log: it follows the log from the head at attach, in seq order, and
// hands every event to the fanout once. Two ways in:
// - events this process appended are handed over right after their commit (`fete.log.onCommit`)
//   and routed at once when they continue the cursor (seq = cursor + 1): no NOTIFY, no read;
// - everything else (other processes' appends, and whatever a gap holds back) is read from the
//   log, woken by appends in any process (NOTIFY through `fete.log.onAppend`) and by a poll,
//   because a rolled-back append draws a seq but sends no NOTIFY and the reader waits at such a
//   gap until it is known to be final (see store/log-reader.ts).
// Both advance the same cursor and never route a seq at or below it, so each event goes out once,
// in seq order, and a local event never overtakes an earlier one that is still in flight.
// Measured in the fanout benchmark (PostgreSQL on this 2-core machine, 100 events/s to 500
// subscribers, two rounds each): emit-to-receipt p50 7.2 ms through NOTIFY + read against 6.0-6.5 ms
// handed over, p99 19.6-21.2 against 15.6-18.2 ms; and no log read per event (the read decodes every
// row again, and under a burst it ran once per NOTIFY).
import createDebug from 'debug';
import type { Envelope } from '../../shared/index.js';
import type { FeteLog } from '../types.js';

const debug = createDebug('fete:fanout');

/** Local events held while a gap before them is open; past this the reader takes over alone. */
const MAX_HELD = 10_000;
/** A gap before local events is usually another local append about to hand its events over; the
 * log is read only if it is still open this much later (other processes' appends NOTIFY anyway). */
const GAP_READ_DELAY_MS = 5;

export interface LogTailOptions {
  pollIntervalMs: number;
  pageSize: number;
  /** Called for each new event, in seq order, synchronously (the tail's cursor is then the
   * event's seq or just before it, never ahead of an event not yet routed). */
  route(event: Envelope): void;
  /** Called after a run of `route` calls (a page read, the local commits of one turn): what was
   * routed may be sent now, together. */
  routed(): void;
}

export class LogTail {
  readonly #log: FeteLog;
  readonly #o: LogTailOptions;
  #cursor = 0;
  #started = false;
  #ready: Promise<void>;
  #pumping: Promise<void> | undefined;
  #again = false;
  #closed = false;
  /** Events committed by this process and not yet routed, by seq (a gap before them is open). */
  readonly #held = new Map<number, Envelope>();
  #flushScheduled = false;
  #gapTimer: ReturnType<typeof setTimeout> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly #unsubscribe: Array<() => void> = [];

  constructor(log: FeteLog, options: LogTailOptions) {
    this.#log = log;
    this.#o = options;
    this.#unsubscribe.push(
      // A NOTIFY for events already handed over directly needs no read.
      log.onAppend((head) => {
        if (head === undefined || !this.#covered(head)) this.wake();
      }),
      log.onCommit((events) => this.#offer(events)),
    );
    this.#ready = log.head().then((head) => {
      // Subscriptions asking for older events replay them from the log themselves.
      this.#cursor = head;
      this.#started = true;
      debug('tail starts after seq %d', head);
    });
    this.#ready.catch((err: Error) => debug('tail could not read the head: %s', err.message));
    this.#timer = setInterval(() => this.wake(), options.pollIntervalMs);
    this.#timer.unref();
  }

  /** Resolves once the tail knows where it starts. */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** Every event with seq <= cursor has been routed (to the subscriptions registered then). */
  get cursor(): number {
    return this.#cursor;
  }

  /** Reads on now (coalesced: a wake during a read makes one more read after it). */
  wake(): void {
    if (this.#closed) return;
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = this.#pump().finally(() => (this.#pumping = undefined));
  }

  #routeOne(e: Envelope): void {
    // Routing is synchronous: a subscription registered between two reads saw the cursor
    // of the earlier one and gets every event after it from here.
    this.#cursor = e.seq!;
    try {
      this.#o.route(e);
    } catch (err) {
      debug('routing event %d failed: %s', e.seq, (err as Error).message);
    }
  }

  #routed(): void {
    try {
      this.#o.routed();
    } catch (err) {
      debug('sending routed events failed: %s', (err as Error).message);
    }
  }

  /** Whether every event up to `head` is routed or held for routing (nothing to read). */
  #covered(head: number): boolean {
    if (head <= this.#cursor) return true;
    if (head - this.#cursor > this.#held.size) return false;
    for (let seq = this.#cursor + 1; seq <= head; seq++) if (!this.#held.has(seq)) return false;
    return true;
  }

  /** Events this process just committed (seq set). */
  #offer(events: readonly Envelope[]): void {
    if (this.#closed) return;
    if (!this.#started) {
      this.wake(); // the head read decides where the tail starts; the reader covers these
      return;
    }
    for (const e of events) if (e.seq! > this.#cursor) this.#held.set(e.seq!, e);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    // Routed after this turn's I/O: commits that completed together go out together, as one
    // packet per subscription (FanoutCore.flush; see the fanout benchmark's notes).
    setImmediate(() => {
      this.#flushScheduled = false;
      if (!this.#closed) this.#flushHeld();
    });
  }

  #flushHeld(): void {
    this.#routeHeld();
    this.#routed();
    if (this.#held.size > MAX_HELD) {
      debug('%d local events wait behind a gap at seq %d: reading them from the log instead', this.#held.size, this.#cursor + 1);
      this.#held.clear();
      this.wake();
    } else if (this.#held.size > 0 && this.#gapTimer === undefined) {
      const gap = this.#cursor + 1;
      this.#gapTimer = setTimeout(() => {
        this.#gapTimer = undefined;
        if (this.#cursor < gap) this.wake(); // the same gap is still open
        else if (this.#held.size > 0) this.#flushHeld(); // another one: give it its own delay
      }, GAP_READ_DELAY_MS);
      this.#gapTimer.unref();
    }
  }

  /** Routes held events while they continue the cursor; forgets those the reader routed. */
  #routeHeld(): void {
    if (this.#held.size === 0) return;
    for (let e = this.#held.get(this.#cursor + 1); e !== undefined; e = this.#held.get(this.#cursor + 1)) {
      this.#held.delete(e.seq!);
      this.#routeOne(e);
    }
    for (const seq of this.#held.keys()) if (seq <= this.#cursor) this.#held.delete(seq);
  }

  async #pump(): Promise<void> {
    try {
      await this.#ready;
      do {
        this.#again = false;
        for (;;) {
          if (this.#closed) return;
          const start = this.#cursor;
          const { events, cursor } = await this.#log.read(start, { limit: this.#o.pageSize });
          if (this.#closed) return;
          // Events handed over while the read was in flight are routed already.
          for (const e of events) if (e.seq! > this.#cursor) this.#routeOne(e);
          this.#cursor = Math.max(this.#cursor, cursor);
          this.#routeHeld();
          this.#routed();
          // A short page means caught up (or waiting at a gap, which an append or the poll will
          // settle); a full one may mean more.
          if (cursor - start < this.#o.pageSize) break;
        }
      } while (this.#again);
    } catch (err) {
      // The store is down or restarting: the next wake (NOTIFY or poll) reads from the same cursor.
      debug('tail read failed at seq %d: %s', this.#cursor, (err as Error).message);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    clearTimeout(this.#gapTimer);
    this.#held.clear();
    for (const u of this.#unsubscribe) u();
    await this.#pumping;
  }
}
