// One process's tail of the log: it follows the log (log/follow.ts) from the head at attach, in
// seq order, and hands every event to the fanout once. follow() brings both ways in: events this
// process appended are handed over right after their commit and routed at once when they continue
// the cursor (no NOTIFY, no read); everything else (other processes' appends, whatever a gap holds
// back) is read from the log, woken by NOTIFY and by a poll. Each event goes out once, in seq order,
// and a local event never overtakes an earlier one still in flight.
// A local commit that continues the cursor is routed by the tail itself, synchronously in the
// commit hook (#committed): it reaches the sockets in the writer's own turn, without waiting for
// follow()'s next turn; follow() yields it again later and the cursor skips it.
// Measured in the fanout benchmark (PostgreSQL on this 2-core machine, 100 events/s to 500
// subscribers, two rounds each): emit-to-receipt p50 7.2 ms through NOTIFY + read against 6.0-6.5 ms
// handed over, p99 19.6-21.2 against 15.6-18.2 ms; and no log read per event (the read decodes every
// row again, and under a burst it ran once per NOTIFY).
//
// Over the NATS bus (`bus` option, bus/nats-bus.ts) the tail follows the bus's view of the log:
// other processes' events arrive like local commits, and seqs this node's sockets did not ask NATS
// for are skipped on the word of their commit notice. Whether a subscription wants a skipped seq is
// asked again when the page is routed (`wants`), synchronously with moving the cursor: a
// subscription registered after the notice was judged starts at or before that seq, and then the
// tail stops before it and reads the log from there.
import createDebug from 'debug';
import type { Envelope } from '../../shared/index.js';
import { type Skipped, type SkippingLog, follow } from '../log/follow.js';
import type { FeteLog } from '../types.js';

const debug = createDebug('fete:fanout');

export interface LogTailOptions {
  pollIntervalMs: number;
  pageSize: number;
  /** Called for each new event, in seq order, synchronously (the tail's cursor is then the
   * event's seq or just before it, never ahead of an event not yet routed). */
  route(event: Envelope): void;
  /** Called after a run of `route` calls (a page read, the local commits of one turn): what was
   * routed may be sent now, together. */
  routed(): void;
  /** The log to follow for live events (the NATS bus's view). @default the log itself */
  live?: SkippingLog | undefined;
  /** Whether a subscription may want events on `subject` of `tenant` (undefined: of any tenant); a
   * skipped seq it wants is read from the log. @default every subject */
  wants?: ((subject: string, tenant: string | undefined) => boolean) | undefined;
  /** See FollowOptions.gapReadDelayMs. */
  gapReadDelayMs?: number | undefined;
}

export class LogTail {
  readonly #log: FeteLog;
  readonly #o: LogTailOptions;
  #cursor = 0;
  #ready: Promise<void>;
  #running: Promise<void> | undefined;
  readonly #abort = new AbortController();
  /** The cursor is the head read at start: commits from here on may be routed directly. */
  #started = false;
  readonly #unCommit: () => void;
  #pollIntervalMs: number;
  /** Ends the current follow() (to start another with a shorter poll interval). */
  #round: AbortController | undefined;

  constructor(log: FeteLog, options: LogTailOptions) {
    this.#log = log;
    this.#o = options;
    this.#pollIntervalMs = options.pollIntervalMs;
    this.#ready = log.head().then((head) => {
      // Subscriptions asking for older events replay them from the log themselves.
      this.#cursor = head;
      this.#started = !this.#abort.signal.aborted;
      debug('tail starts after seq %d', head);
      this.#running = this.#run();
    });
    this.#ready.catch((err: Error) => debug('tail could not read the head: %s', err.message));
    this.#unCommit = log.onCommit((events) => this.#committed(events));
  }

  /** A commit of this process: the run of its events that continues the cursor is routed and sent
   * now. Anything else (a gap before it: another append still in flight or another process's)
   * is left to follow(), which holds it until the gap is filled or read. */
  #committed(events: readonly Envelope[]): void {
    if (!this.#started) return;
    let routed = false;
    for (const e of events) {
      if (e.seq! <= this.#cursor) continue; // read from the log already
      if (e.seq !== this.#cursor + 1) break;
      this.#routeOne(e);
      routed = true;
    }
    if (routed) this.#routed();
  }

  /** Reads the log at least every `ms` from now on (a door that came later asked for more). The
   * follow() in progress ends and another starts from the cursor: one read, no event lost. */
  pollAtLeastEvery(ms: number): void {
    if (!(ms < this.#pollIntervalMs)) return;
    this.#pollIntervalMs = ms;
    this.#round?.abort();
  }

  /** Resolves once the tail knows where it starts. */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** Every event with seq <= cursor has been routed (to the subscriptions registered then). */
  get cursor(): number {
    return this.#cursor;
  }

  #routeOne(e: Envelope): void {
    // Routing is synchronous: a subscription registered between two pages saw the cursor of the
    // earlier one and gets every event after it from here.
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

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      const round = (this.#round = new AbortController());
      try {
        const o = this.#o;
        const pages = follow(o.live ?? this.#log, {
          from: { cursor: this.#cursor, gaps: [] },
          signal: round.signal,
          pageSize: o.pageSize,
          pollIntervalMs: this.#pollIntervalMs,
          gapReadDelayMs: o.gapReadDelayMs,
        });
        for await (const page of pages) {
          if (page.type !== 'events') continue; // no gaps from its own cursor
          const wanted = this.#firstWanted(page.skipped);
          for (const e of page.events) if (e.seq! > this.#cursor && (wanted === undefined || e.seq! < wanted)) this.#routeOne(e);
          if (wanted !== undefined) {
            // Follow again from just before it: a new follow reads the log first.
            debug('seq %d was skipped but a subscription wants it: reading the log from there', wanted);
            this.#cursor = Math.max(this.#cursor, wanted - 1);
            this.#routed();
            break;
          }
          this.#cursor = Math.max(this.#cursor, page.seq);
          // Local commits completed in one turn go out together (one packet per subscription).
          this.#routed();
        }
      } catch (err) {
        // The store is down or restarting: follow again from the same cursor after a poll interval.
        debug('tail read failed at seq %d: %s', this.#cursor, (err as Error).message);
        await new Promise((r) => setTimeout(r, this.#pollIntervalMs).unref());
      }
    }
  }

  /** The first skipped seq past the cursor that a subscription may want. */
  #firstWanted(skipped: readonly Skipped[] | undefined): number | undefined {
    const wants = this.#o.wants;
    if (skipped === undefined) return undefined;
    for (const s of skipped) if (s.seq > this.#cursor && s.subject !== undefined && (wants === undefined || wants(s.subject, s.tenant))) return s.seq;
    return undefined;
  }

  async close(): Promise<void> {
    this.#started = false;
    this.#unCommit();
    this.#abort.abort();
    this.#round?.abort();
    await this.#ready.catch(() => undefined);
    await this.#running;
  }
}
