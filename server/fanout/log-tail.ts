// One process's tail of the log: it follows the log from the head at attach, in seq order, and
// hands every event to the fanout once. Woken by appends in any process (NOTIFY through
// `fete.log.onAppend`) and by a poll, because a rolled-back append draws a seq but sends no NOTIFY
// and the reader waits at such a gap until it is known to be final (see store/log-reader.ts).
import createDebug from 'debug';
import type { Envelope } from '../../shared/index.js';
import type { FeteLog } from '../types.js';

const debug = createDebug('fete:fanout');

export interface LogTailOptions {
  pollIntervalMs: number;
  pageSize: number;
  /** Called for each new event, in seq order, synchronously (the tail's cursor is then the
   * event's seq or just before it, never ahead of an event not yet routed). */
  route(event: Envelope): void;
}

export class LogTail {
  readonly #log: FeteLog;
  readonly #o: LogTailOptions;
  #cursor = 0;
  #ready: Promise<void>;
  #pumping: Promise<void> | undefined;
  #again = false;
  #closed = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(log: FeteLog, options: LogTailOptions) {
    this.#log = log;
    this.#o = options;
    this.#unsubscribe = log.onAppend(() => this.wake());
    this.#ready = log.head().then((head) => {
      // Subscriptions asking for older events replay them from the log themselves.
      this.#cursor = head;
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
          for (const e of events) {
            // Routing is synchronous: a subscription registered between two reads saw the cursor
            // of the earlier one and gets every event after it from here.
            this.#cursor = e.seq!;
            try {
              this.#o.route(e);
            } catch (err) {
              debug('routing event %d failed: %s', e.seq, (err as Error).message);
            }
          }
          this.#cursor = Math.max(this.#cursor, cursor);
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
    this.#unsubscribe?.();
    await this.#pumping;
  }
}
