// One subscription of one socket, and the handoff that makes resume exact: live events arriving
// while history is replayed are buffered, history is followed from the log (log/follow.ts, gap
// notices included) up to (at least) where the tail stood when the subscription was registered,
// then the buffer is flushed skipping seqs already sent. Every event is sent once, in seq order,
// with no gap between history and live, and every gap the log has is told in its place.
//
// Slow sockets: a live subscription whose socket has more than `maxBufferedEvents` events waiting
// stops taking events from the tail and catches up from the log instead, paced by the socket's
// drain, then goes live again through the same handoff. The log is the buffer: a slow client costs
// the server a cursor, never an unbounded queue, and loses nothing (no gap is reported for it).
import createDebug from 'debug';
import type { Envelope, WireEnvelope } from '../../shared/index.js';
import { follow } from '../log/follow.js';
import { replayThenLive } from '../log/replay-handover.js';
import type { GapNotice, Start } from '../log/start.js';
import type { FeteLog } from '../types.js';
import { wireForBrowser } from './browser-envelope.js';

const debug = createDebug('fete:fanout');

/** What a subscription needs from its socket and from the fanout. */
export interface SubscriptionHost {
  /** The Socket.IO id of the subscription's socket (its own room), for sends shared with others. */
  readonly socketId: string;
  readonly log: FeteLog;
  readonly pageSize: number;
  readonly maxBufferedEvents: number;
  /** Where the tail stands: events after it reach `take`. */
  tailCursor(): number;
  /** Events waiting in the socket's write buffer (an `evs` packet counts its events). */
  backlog(): number;
  /** Resolves when the socket's backlog is low again (or the socket is gone). */
  whenWritable(): Promise<void>;
  /** Sends events of subscription `sid`, in seq order (one `ev`, or one `evs` for several);
   * `frame` is that packet encoded already (ev-frame.ts), when the fanout built it. */
  send(sid: string, events: WireEnvelope[], frame?: string): void;
  /** Tells the client that the log cannot cover its resume (see log/start.ts). */
  gap(sid: string, gap: GapNotice): void;
  /** The subscription fell behind and is catching up from the log. */
  overflowed(): void;
  catchUp(delta: 1 | -1): void;
  /** The log could not be read for this subscription. */
  failed(sub: Subscription, err: Error): void;
  /** Whether an event may be sent to this socket's caller (exposed topic, same tenant): the one
   * rule of security/exposure.ts, asked for live and replayed events alike. */
  visible(e: Envelope): boolean;
  /** The caller's tenant: only its events are visible (the NATS bus asks for them alone). */
  readonly tenant: string;
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
  #buffer: Array<{ seq: number; e: WireEnvelope }> | undefined;
  /** Replayed events not sent yet: a replay page goes out as one packet (see #flushOut). */
  #out: WireEnvelope[] | undefined;
  #bufferOverflowed = false;
  #closedByOwner = false;
  /** Stops the follower of a replay when the subscription closes (made by the first replay: a
   * subscription that starts live, the common case, never needs one). The buffers above are
   * also made only when used: an idle live subscription is this object and its index entry. */
  #abort: AbortController | undefined;
  #closeLive: (() => void) | undefined;

  constructor(host: SubscriptionHost, sid: string, pattern: string, cursor: number) {
    this.#host = host;
    this.sid = sid;
    this.pattern = pattern;
    this.#lastSent = cursor;
  }

  get closed(): boolean {
    return this.#mode === 'closed';
  }

  get socketId(): string {
    return this.#host.socketId;
  }

  /** The tenant of the subscription's caller (see SubscriptionHost.tenant). */
  get tenant(): string {
    return this.#host.tenant;
  }

  /** Starts live at once: `cursor` is the tail's position, so everything after it comes live. */
  goLive(): void {
    if (this.#mode === 'replay') this.#mode = 'live';
  }

  /** Replays the log from `start` (the start cursor and its gaps), then goes live. Must be called
   * right after the subscription is added to the index, before the tail routes another event. */
  replay(start: Start): void {
    void this.#replay(start);
  }

  /**
   * An event from the tail (encoded once for every receiver). True: the subscription is live and
   * takes it now; the caller sends it before anything else is sent to this subscription, in one
   * packet with the other events it takes in the same routing batch and with every other
   * subscription of the same sid that takes the same events (see fanout-core.ts). False: not now (buffered during a replay, already sent, or the
   * socket is too far behind and the subscription went back to the log).
   */
  take(seq: number, e: WireEnvelope): boolean {
    switch (this.#mode) {
      case 'live':
        if (this.#host.backlog() > this.#host.maxBufferedEvents) {
          debug('sub %s (%s) overflowed at seq %d: catching up from the log', this.sid, this.pattern, seq);
          this.#host.overflowed();
          this.#mode = 'replay';
          this.#buffer = undefined;
          void this.#replay({ cursor: this.#lastSent, gaps: [] });
          return false;
        }
        if (seq <= this.#lastSent) return false;
        this.#lastSent = seq;
        return true;
      case 'replay':
        if (this.#bufferOverflowed) return false;
        if ((this.#buffer?.length ?? 0) >= this.#host.maxBufferedEvents) {
          // Dropped from memory only: the replay reads them from the log in another round.
          this.#bufferOverflowed = true;
          this.#buffer = undefined;
          return false;
        }
        (this.#buffer ??= []).push({ seq, e });
        return false;
      case 'closed':
        return false;
    }
  }

  /** Sends events this subscription took, on their own (no other subscription shares the packet). */
  push(events: WireEnvelope[], frame?: string): void {
    this.#host.send(this.sid, events, frame);
  }

  close(): void {
    this.#closedByOwner = true;
    this.#closeQuietly();
    this.#closeLive?.();
    this.#closeLive = undefined;
  }

  /** Ends, with this subscription, its receiver of live (volatile, latest) events. */
  withLive(close: () => void): void {
    if (this.closed) close();
    else this.#closeLive = close;
  }

  #closeQuietly(): void {
    this.#mode = 'closed';
    this.#abort?.abort();
    this.#buffer = undefined;
    this.#out = undefined;
  }

  /** Queues a replayed event; #flushOut sends the queue (before a gap, and after each page). */
  #send(seq: number, e: WireEnvelope): void {
    if (seq <= this.#lastSent) return;
    this.#lastSent = seq;
    (this.#out ??= []).push(e);
  }

  #flushOut(): void {
    const out = this.#out;
    if (out === undefined || out.length === 0 || this.closed) return;
    this.#out = undefined;
    this.#host.send(this.sid, out);
  }

  async #replay(start: Start): Promise<void> {
    const host = this.#host;
    host.catchUp(1);
    const items = follow(host.log, {
      from: start,
      pattern: this.pattern,
      pageSize: host.pageSize,
      signal: (this.#abort ??= new AbortController()).signal,
      knownHead: host.tailCursor(),
      visible: (e) => host.visible(e),
    });
    const self = this;
    try {
      await replayThenLive(items, start, {
        get closed() {
          return self.closed;
        },
        writable: () => host.whenWritable(),
        tailCursor: () => host.tailCursor(),
        // Whatever the tail routes from here on lands in the buffer (take()); the log covers the rest.
        bufferFromTail: () => {
          this.#buffer = undefined;
          this.#bufferOverflowed = false;
        },
        overflowed: () => this.#bufferOverflowed,
        gap: (item) => {
          this.#flushOut(); // events up to resumedAt first: the client skips seqs <= resumedAt after the gap
          // The client moves its cursor to resumedAt (a seq of this log, also after a reset).
          this.#lastSent = Math.max(item.reason === 'pruned' ? this.#lastSent : start.cursor, item.resumedAt);
          host.gap(this.sid, item);
        },
        page: (events) => {
          for (const ev of events) this.#send(ev.seq!, wireForBrowser(ev));
          this.#flushOut();
        },
        goLive: () => {
          for (const b of this.#buffer ?? []) this.#send(b.seq, b.e);
          this.#flushOut();
          this.#buffer = undefined;
          this.#mode = 'live';
        },
      });
    } catch (err) {
      debug('replay of sub %s (%s) failed after seq %d: %s', this.sid, this.pattern, this.#lastSent, (err as Error).message);
      const byOwner = this.#closedByOwner;
      this.#closeQuietly();
      if (!byOwner) host.failed(this, err as Error);
    } finally {
      await items.return();
      host.catchUp(-1);
    }
  }
}
