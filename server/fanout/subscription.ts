// One subscription of one socket, and the handoff that makes resume exact: live events arriving
// while history is replayed are buffered, history is read from the log up to (at least) where the
// tail stood when the subscription was registered, then the buffer is flushed skipping seqs
// already sent. Every event is sent once, in seq order, with no gap between history and live.
//
// Slow sockets: a live subscription whose socket has more than `maxBufferedEvents` packets waiting
// stops taking events from the tail and catches up from the log instead, paced by the socket's
// drain, then goes live again through the same handoff. The log is the buffer: a slow client costs
// the server a cursor, never an unbounded queue, and loses nothing (no gap is reported for it).
import createDebug from 'debug';
import { encodeEnvelope } from '../../shared/index.js';
import type { FeteLog } from '../types.js';

const debug = createDebug('fete:fanout');

/** What a subscription needs from its socket and from the fanout. */
export interface SubscriptionHost {
  readonly log: FeteLog;
  readonly pageSize: number;
  readonly maxBufferedEvents: number;
  /** Where the tail stands: events after it reach `deliver`. */
  tailCursor(): number;
  /** Packets waiting in the socket's write buffer. */
  backlog(): number;
  /** Resolves when the socket's backlog is low again (or the socket is gone). */
  whenWritable(): Promise<void>;
  send(sid: string, encoded: string): void;
  /** The subscription fell behind and is catching up from the log. */
  overflowed(): void;
  catchUp(delta: 1 | -1): void;
  /** The log could not be read for this subscription. */
  failed(sub: Subscription, err: Error): void;
}

type Mode = 'replay' | 'live' | 'closed';

export class Subscription {
  readonly sid: string;
  readonly pattern: string;
  readonly #host: SubscriptionHost;
  #mode: Mode = 'replay';
  /** The highest seq sent (or the start cursor): nothing at or below it is sent again. */
  #lastSent: number;
  /** Live events routed while replaying, in seq order; bounded by maxBufferedEvents. */
  #buffer: Array<{ seq: number; e: string }> = [];
  #bufferOverflowed = false;
  #closedByOwner = false;

  constructor(host: SubscriptionHost, sid: string, pattern: string, cursor: number) {
    this.#host = host;
    this.sid = sid;
    this.pattern = pattern;
    this.#lastSent = cursor;
  }

  get closed(): boolean {
    return this.#mode === 'closed';
  }

  /** Starts live at once: `cursor` is the tail's position, so everything after it comes live. */
  goLive(): void {
    if (this.#mode === 'replay') this.#mode = 'live';
  }

  /** Replays the log after `cursor` (the start cursor), then goes live. Must be called right after
   * the subscription is added to the index, before the tail routes another event. */
  replay(): void {
    void this.#replay(this.#lastSent);
  }

  /** An event from the tail (encoded once for every receiver). */
  deliver(seq: number, e: string): void {
    switch (this.#mode) {
      case 'live':
        if (this.#host.backlog() > this.#host.maxBufferedEvents) {
          debug('sub %s (%s) overflowed at seq %d: catching up from the log', this.sid, this.pattern, seq);
          this.#host.overflowed();
          this.#mode = 'replay';
          this.#buffer = [];
          void this.#replay(this.#lastSent);
          return;
        }
        this.#send(seq, e);
        return;
      case 'replay':
        if (this.#bufferOverflowed) return;
        if (this.#buffer.length >= this.#host.maxBufferedEvents) {
          // Dropped from memory only: the replay reads them from the log in another round.
          this.#bufferOverflowed = true;
          this.#buffer = [];
          return;
        }
        this.#buffer.push({ seq, e });
        return;
      case 'closed':
        return;
    }
  }

  close(): void {
    this.#closedByOwner = true;
    this.#closeQuietly();
  }

  #closeQuietly(): void {
    this.#mode = 'closed';
    this.#buffer = [];
  }

  #send(seq: number, e: string): void {
    if (seq <= this.#lastSent) return;
    this.#lastSent = seq;
    this.#host.send(this.sid, e);
  }

  async #replay(from: number): Promise<void> {
    const host = this.#host;
    host.catchUp(1);
    let read = from;
    try {
      for (;;) {
        // Whatever the tail routes from here on lands in the buffer; the log covers the rest.
        this.#buffer = [];
        this.#bufferOverflowed = false;
        const target = host.tailCursor();
        while (read < target) {
          await host.whenWritable();
          if (this.closed) return;
          const { events, cursor } = await host.log.read(read, { pattern: this.pattern, limit: host.pageSize });
          if (this.closed) return;
          for (const ev of events) this.#send(ev.seq!, encodeEnvelope(ev));
          // No progress: an append in flight holds the reader at a gap; it settles shortly.
          if (cursor <= read) await pause(20);
          read = Math.max(read, cursor);
        }
        if (this.#bufferOverflowed) continue; // fell behind again: another round from the log
        for (const b of this.#buffer) this.#send(b.seq, b.e);
        this.#buffer = [];
        this.#mode = 'live';
        return;
      }
    } catch (err) {
      debug('replay of sub %s (%s) failed after seq %d: %s', this.sid, this.pattern, this.#lastSent, (err as Error).message);
      const byOwner = this.#closedByOwner;
      this.#closeQuietly();
      if (!byOwner) host.failed(this, err as Error);
    } finally {
      host.catchUp(-1);
    }
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
