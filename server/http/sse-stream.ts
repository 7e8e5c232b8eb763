// One Server-Sent Events connection, a receiver of the node's one live tail (fanout/node-tail.ts),
// exactly as a socket subscription is (fanout/subscription.ts): it replays its backlog from its
// resume cursor through follow() (log/follow.ts), buffering what the tail routes meanwhile, then
// hands over to the tail skipping seqs already sent: every event once, in seq order, no gap. Each
// message's `id` is its cursor (`<epoch>:<seq>`), so EventSource's Last-Event-ID resumes exactly
// where it was. A live stream reads nothing: the tail routes each event to every stream that
// matches and may see it, framed once for all of them (sse-door.ts).
//
// Gaps: where the log cannot cover the resume (a cursor of another log, beyond the head, or behind
// what retention pruned) a `gap` message goes out in its place (see sseGapFrame), its `id` the
// cursor delivery continues after.
//
// Bounded buffering: a live stream whose response holds more than `maxBufferedBytes` unsent stops
// taking events from the tail and catches up from the log instead, one page (`pageSize` events) at
// a time, each written only once the previous one drained; then it goes live again through the same
// handover. The log is the buffer: a slow reader costs the server a cursor and at most about
// `maxBufferedBytes` (plus one event), never an unbounded queue, and it loses nothing. A read error
// ends the response: EventSource reconnects with Last-Event-ID and resumes exactly where it was.
import type { ServerResponse } from 'node:http';
import createDebug from 'debug';
import { type Envelope, type LatestCleared, formatCursor } from '../../shared/index.js';
import { encodeForBrowser } from '../fanout/browser-envelope.js';
import { type FollowGap, follow } from '../log/follow.js';
import { replayThenLive } from '../log/replay-handover.js';
import type { Start } from '../log/start.js';
import type { FeteLog } from '../types.js';
import type { LiveEvent } from '../live/live-hub.js';
import { HeldLatest } from '../fanout/held-latest.js';
import type { TailReceiver } from '../fanout/node-tail.js';

const debug = createDebug('fete:http');

export interface SseStreamOptions {
  pattern: string;
  /** The caller's tenant: the tail routes only its events here. */
  tenant: string;
  /** Where to start (stream-route.ts resolves `from` / Last-Event-ID against the tail). */
  start: Start;
  /** Whether an event may be sent to this stream's caller (security/exposure.ts, the rule the tail
   * applies to live events), for the replay's follow(). */
  visible: (e: Envelope) => boolean;
  heartbeatMs: number;
  pollIntervalMs: number;
  pageSize: number;
  retryMs: number;
  maxBufferedBytes: number;
}

/** What a stream needs of its door (sse-door.ts) and of the node's tail. */
export interface SseStreamHost {
  readonly log: FeteLog;
  /** Where the tail stands: events after it reach `take`. */
  tailCursor(): number;
  /** The stream fell behind and catches up from the log (counted). */
  overflowed(): void;
}

/** Opens `res` as an SSE stream: the headers (with `headers` added), no Nagle delay, the `retry:`
 * line then `first`, and a `: ping` comment every `heartbeatMs` through `ping` (the returned timer,
 * unref'd: the caller clears it when the stream ends). */
export function openSseResponse(res: ServerResponse, o: { retryMs: number; heartbeatMs: number; first: string; headers?: Record<string, string>; ping: () => void }): NodeJS.Timeout {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    ...o.headers,
    // nginx buffers proxied responses by default, which would hold events back.
    'x-accel-buffering': 'no',
  });
  res.socket?.setNoDelay(true);
  res.write(`retry: ${o.retryMs}\n${o.first}`);
  const timer = setInterval(o.ping, o.heartbeatMs);
  timer.unref();
  return timer;
}

/** One SSE message: `id` is the event's cursor, so a reconnect's Last-Event-ID is the resume
 * cursor. superjson text is JSON without raw newlines, so it is always a single `data:` line. The
 * envelope goes out without its server-side context, as over Socket.IO (browser-envelope.ts). */
export function sseFrame(epoch: string, envelope: Envelope): string {
  return `id: ${formatCursor(epoch, envelope.seq!)}\nevent: ${envelope.topic}\ndata: ${encodeForBrowser(envelope)}\n\n`;
}

/** A gap message: `event: gap`, data `{ reason, after, resumedAt, epoch }` (as the Socket.IO `gap`
 * packet), `id` the cursor of `resumedAt`, so a reconnect after it does not ask for the range again. */
export function sseGapFrame(epoch: string, gap: FollowGap): string {
  const data = JSON.stringify({ reason: gap.reason, after: gap.after, resumedAt: gap.resumedAt, epoch });
  return `id: ${gap.cursor}\nevent: gap\ndata: ${data}\n\n`;
}

/** A `volatile` or `latest` event: no `id` line (EventSource keeps the last one, so a reconnect
 * resumes the log where it was; live events are not in the log), `event: <topic>`, and data the
 * envelope marked `volatile: true` or with its `version`. */
export function sseLiveFrame(ev: LiveEvent): string {
  return `event: ${ev.envelope.topic}\ndata: ${ev.text()}\n\n`;
}

/** A latest value that is gone (cleared or expired): `event: cleared`, data the LatestCleared
 * `{ topic, subject, version, reason }` as JSON. No `id` line (not in the log). */
export function sseClearedFrame(c: LatestCleared): string {
  return `event: cleared\ndata: ${JSON.stringify({ topic: c.topic, subject: c.subject, version: c.version, reason: c.reason })}\n\n`;
}

/** The notice that volatile events were lost: `event: gap`, data `{ reason: 'volatile', topics }`
 * first on a resume (Last-Event-ID or a cursor) of a pattern that covers volatile topics (their
 * events while the client was away), or `{ reason: 'volatile', dropped }` before the next live
 * event after a slow client missed some. No `id` line. */
export function sseVolatileGapFrame(lost: { topics: readonly string[] } | { dropped: number }): string {
  return `event: gap\ndata: ${JSON.stringify({ reason: 'volatile', ...lost })}\n\n`;
}

/** The end of a resume's complete snapshot (RemovalsGapPacket): `event: gap`, data
 * `{ reason: 'removals' }`: the latest values the client holds that the stream did not send since
 * it opened are gone. No `id` line. */
export function sseRemovalsGapFrame(): string {
  return `event: gap\ndata: ${JSON.stringify({ reason: 'removals' })}\n\n`;
}

type Mode = 'replay' | 'live' | 'closed';

export class SseStream implements TailReceiver {
  readonly pattern: string;
  readonly tenant: string;
  readonly #res: ServerResponse;
  readonly #host: SseStreamHost;
  readonly #o: SseStreamOptions;
  #mode: Mode = 'replay';
  /** The highest seq written (or the start cursor): nothing at or below it is written again. */
  #lastSent: number;
  /** Frames taken from the tail while replaying, in seq order; bounded by maxBufferedBytes. */
  #buffer: Array<{ seq: number; frame: string }> | undefined;
  #bufferBytes = 0;
  #bufferOverflowed = false;
  /** Frames taken and not written yet: written together (sse-door.ts flushes after each routing). */
  #out: string[] = [];
  #outBytes = 0;
  #drain: (() => void) | undefined;
  readonly #abort = new AbortController();
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #onClose: () => void;
  #closeLive: (() => void) | undefined;
  /** Volatile events not written since the last live write (the client was too slow). */
  #droppedVolatile = 0;
  /** Latest values held while the client is too slow, the newest per subject (held-latest.ts). */
  #held: HeldLatest | undefined;

  constructor(res: ServerResponse, host: SseStreamHost, o: SseStreamOptions, onClose: () => void) {
    this.#res = res;
    this.#host = host;
    this.#o = o;
    this.pattern = o.pattern;
    this.tenant = o.tenant;
    this.#lastSent = o.start.cursor;
    this.#onClose = onClose;
  }

  get closed(): boolean {
    return this.#mode === 'closed';
  }

  /**
   * Sends the headers and a first comment naming the cursor, then goes live at once (the start is
   * the tail's position) or replays the log from the start first. Must be called right after the
   * stream is registered with the tail, before the tail routes another event.
   */
  start(): void {
    const res = this.#res;
    const { start } = this.#o;
    const ping = openSseResponse(res, {
      retryMs: this.#o.retryMs,
      heartbeatMs: this.#o.heartbeatMs,
      first: `: ok cursor=${formatCursor(this.#host.log.epoch, start.cursor)}\n\n`,
      ping: () => this.#write(': ping\n\n'),
    });
    res.on('close', () => this.close());
    res.on('drain', () => this.#drained());
    this.#timers.push(ping);
    if (start.cursor >= this.#host.tailCursor() && start.gaps.length === 0) this.#mode = 'live';
    else void this.#replay(start);
  }

  /** True while the client reads slower than events come: a catch-up waits for the response to
   * drain, or a live stream's response is over its high-water mark. */
  get waitingForDrain(): boolean {
    return this.#drain !== undefined || (this.#mode === 'live' && this.#res.writableNeedDrain);
  }

  /**
   * An event from the tail, framed once for every stream (sseFrame). True: taken, written at the
   * next `flushOut` (the door's, after the tail's routing batch). False: not now (buffered during a
   * replay, already written, or the client is too far behind and the stream went back to the log).
   */
  take(seq: number, frame: string): boolean {
    switch (this.#mode) {
      case 'live': {
        if (seq <= this.#lastSent) return false;
        const queued = this.#res.writableLength + this.#outBytes;
        if (queued > 0 && queued + frame.length > this.#o.maxBufferedBytes) {
          debug('stream %s overflowed at seq %d: catching up from the log', this.pattern, seq);
          this.#host.overflowed();
          this.#mode = 'replay';
          void this.#replay({ cursor: this.#lastSent, gaps: [] });
          return false;
        }
        this.#lastSent = seq;
        this.#out.push(frame);
        this.#outBytes += frame.length;
        return true;
      }
      case 'replay':
        if (this.#bufferOverflowed) return false;
        if (this.#bufferBytes > 0 && this.#bufferBytes + frame.length > this.#o.maxBufferedBytes) {
          // Dropped from memory only: the replay reads them from the log in another round.
          this.#bufferOverflowed = true;
          this.#buffer = undefined;
          this.#bufferBytes = 0;
          return false;
        }
        (this.#buffer ??= []).push({ seq, frame });
        this.#bufferBytes += frame.length;
        return false;
      case 'closed':
        return false;
    }
  }

  /** Writes the frames taken since the last call, as one chunk. */
  flushOut(): void {
    if (this.#out.length === 0) return;
    const chunk = this.#out.length === 1 ? this.#out[0]! : this.#out.join('');
    this.#out = [];
    this.#outBytes = 0;
    this.#write(chunk);
  }

  /** Ends, with this stream, its receiver of live events (live/live-hub.ts). */
  withLive(close: () => void): void {
    if (this.closed) close();
    else this.#closeLive = close;
  }

  /** A volatile or latest event for this stream. While the client is too slow to take what was
   * written, a volatile one is dropped (it could never be replayed; a `volatile` gap is written
   * before the next live event) and a latest one is held, the newest per subject, until the
   * response drains: a reader that stopped reading costs one value per subject, not one per change
   * (an SSE stream has no heartbeat answer that would end it). */
  live(ev: LiveEvent): void {
    if (this.closed) return;
    const behind = this.waitingForDrain || this.#res.writableNeedDrain;
    if (ev.envelope.volatile) {
      if (behind) {
        this.#droppedVolatile++;
        return;
      }
    } else if (behind || this.#held !== undefined) {
      // While values are held, later ones are held too, so that none overtakes an older one.
      this.#holding().hold(ev);
      return;
    }
    this.#writeLive(ev);
  }

  #writeLive(ev: LiveEvent): void {
    if (this.#droppedVolatile > 0) {
      this.#write(sseVolatileGapFrame({ dropped: this.#droppedVolatile }));
      this.#droppedVolatile = 0;
    }
    this.#write(sseLiveFrame(ev));
  }

  #writeHeld(): void {
    const due = this.#held?.take() ?? [];
    this.#held = undefined;
    if (this.closed) return;
    for (const entry of due)
      if ('value' in entry) this.#writeLive(entry.value);
      else if ('removal' in entry) this.#write(sseClearedFrame(entry.removal));
      else this.#write(sseRemovalsGapFrame());
  }

  /** Holds a value or a removal while the client is too slow (see held-latest.ts). */
  #holding(): HeldLatest {
    if (this.#held === undefined) {
      this.#held = new HeldLatest();
      void this.#writable().then(() => this.#writeHeld());
    }
    return this.#held;
  }

  /** A latest value that is gone: held like values while the client is too slow (a stalled reader
   * would otherwise have every clear queued), written at once otherwise. */
  cleared(c: LatestCleared): void {
    if (this.closed) return;
    if (this.#held !== undefined || this.waitingForDrain || this.#res.writableNeedDrain) this.#holding().holdRemoval(c);
    else this.#write(sseClearedFrame(c));
  }

  /** The resume's snapshot was complete (it is older than the removals kept): held like values
   * while the client is too slow, so that it follows every value held before it. */
  restated(): void {
    if (this.closed) return;
    if (this.#held !== undefined || this.waitingForDrain || this.#res.writableNeedDrain) this.#holding().holdRestated();
    else this.#write(sseRemovalsGapFrame());
  }

  /** Writes a comment-free frame as is (the volatile notice). */
  frame(text: string): void {
    this.#write(text);
  }

  /** Ends the stream (client gone, server closing, the log unreadable). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.#mode = 'closed';
    this.#buffer = undefined;
    this.#out = [];
    this.#closeLive?.();
    for (const t of this.#timers) clearInterval(t);
    this.#abort.abort();
    this.#drained();
    if (!this.#res.writableEnded) this.#res.end();
    this.#onClose();
  }

  #write(chunk: string): boolean {
    if (this.closed) return true;
    return this.#res.write(chunk);
  }

  #drained(): void {
    const wake = this.#drain;
    this.#drain = undefined;
    wake?.();
  }

  /** Resolves once the response took what was written (or the stream closed). */
  #writable(): Promise<void> {
    if (this.closed || !this.#res.writableNeedDrain) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const before = this.#drain;
      this.#drain = () => {
        before?.();
        resolve();
      };
    });
  }

  /** Queues a replayed frame; flushOut writes the queue (before a gap, and after each page). */
  #send(seq: number, frame: string): void {
    if (seq <= this.#lastSent) return;
    this.#lastSent = seq;
    this.#out.push(frame);
    this.#outBytes += frame.length;
  }

  /** As Subscription's replay (fanout/subscription.ts): the log from `start` up to (at least)
   * where the tail stood, paced by the client, then the frames the tail routed meanwhile, then live. */
  async #replay(start: Start): Promise<void> {
    const epoch = this.#host.log.epoch;
    const { pattern, pageSize, pollIntervalMs, visible } = this.#o;
    const items = follow(this.#host.log, { from: start, pattern, pageSize, pollIntervalMs, signal: this.#abort.signal, knownHead: this.#host.tailCursor(), visible });
    const self = this;
    try {
      await replayThenLive(items, start, {
        get closed() {
          return self.closed;
        },
        writable: () => this.#writable(),
        tailCursor: () => this.#host.tailCursor(),
        // Whatever the tail routes from here on lands in the buffer (take()); the log covers the rest.
        bufferFromTail: () => {
          this.#buffer = undefined;
          this.#bufferBytes = 0;
          this.#bufferOverflowed = false;
        },
        overflowed: () => this.#bufferOverflowed,
        gap: (item) => {
          this.flushOut(); // events up to resumedAt first: the client's cursor moves past them with the gap
          this.#lastSent = Math.max(item.reason === 'pruned' ? this.#lastSent : start.cursor, item.resumedAt);
          this.#write(sseGapFrame(epoch, item));
        },
        page: (events) => {
          for (const e of events) this.#send(e.seq!, sseFrame(epoch, e));
          this.flushOut();
        },
        goLive: () => {
          for (const b of this.#buffer ?? []) this.#send(b.seq, b.frame);
          this.flushOut();
          this.#buffer = undefined;
          this.#bufferBytes = 0;
          this.#mode = 'live';
        },
      });
    } catch (err) {
      debug('stream %s: read failed after seq %d, ending the stream (the client resumes from its last id): %s', pattern, this.#lastSent, (err as Error).message);
      this.close();
    } finally {
      await items.return();
    }
  }
}
