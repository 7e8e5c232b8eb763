// One Server-Sent Events connection: follows the log (log/follow.ts) from a resolved start, replay
// and live in one loop, and writes each event as a message whose `id` is its cursor
// (`<epoch>:<seq>`), so that EventSource's Last-Event-ID resumes exactly where it was.
//
// Gaps: where the log cannot cover the resume (a cursor of another log, beyond the head, or behind
// what retention pruned) a `gap` message goes out in its place (see sseGapFrame), its `id` the
// cursor delivery continues after.
//
// Bounded buffering: at most one page (`pageSize` events) is written before the loop waits for the
// socket to drain; follow() reads nothing until asked, so a slow reader holds back the reads, never
// the server's memory. A read error ends the response: EventSource reconnects with Last-Event-ID
// and resumes exactly where it was.
import type { ServerResponse } from 'node:http';
import createDebug from 'debug';
import { type Envelope, type LatestCleared, formatCursor } from '../../shared/index.js';
import { encodeForBrowser } from '../fanout/browser-envelope.js';
import { type FollowGap, follow } from '../log/follow.js';
import type { Start } from '../log/start.js';
import type { FeteLog } from '../types.js';
import type { LiveEvent } from '../live/live-hub.js';

const debug = createDebug('fete:http');

export interface SseStreamOptions {
  pattern: string;
  /** Where to start (stream-route.ts resolves `from` / Last-Event-ID). */
  start: Start;
  /** Whether an event may be sent to this stream's caller (security/exposure.ts). */
  visible: (e: Envelope) => boolean;
  heartbeatMs: number;
  pollIntervalMs: number;
  pageSize: number;
  retryMs: number;
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

export class SseStream {
  readonly #res: ServerResponse;
  readonly #log: FeteLog;
  readonly #o: SseStreamOptions;
  #closed = false;
  #drain: (() => void) | undefined;
  readonly #abort = new AbortController();
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #onClose: () => void;
  #closeLive: (() => void) | undefined;
  /** Volatile events not written since the last live write (the client was too slow). */
  #droppedVolatile = 0;

  constructor(res: ServerResponse, log: FeteLog, o: SseStreamOptions, onClose: () => void) {
    this.#res = res;
    this.#log = log;
    this.#o = o;
    this.#onClose = onClose;
  }

  /** Sends the headers and a first comment naming the cursor, then replays and follows the log. */
  start(): void {
    const res = this.#res;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx buffers proxied responses by default, which would hold events back.
      'x-accel-buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    res.write(`retry: ${this.#o.retryMs}\n: ok cursor=${formatCursor(this.#log.epoch, this.#o.start.cursor)}\n\n`);
    res.on('close', () => this.close());
    res.on('drain', () => this.#drained());
    const ping = setInterval(() => this.#write(': ping\n\n'), this.#o.heartbeatMs);
    ping.unref();
    this.#timers.push(ping);
    void this.#run();
  }

  /** True while the client reads slower than events come: the loop waits for the socket to drain. */
  get waitingForDrain(): boolean {
    return this.#drain !== undefined;
  }

  /** Ends, with this stream, its receiver of live events (live/live-hub.ts). */
  withLive(close: () => void): void {
    if (this.#closed) close();
    else this.#closeLive = close;
  }

  /** A volatile or latest event for this stream. A volatile one is dropped while the client is too
   * slow to take the log's events (it could never be replayed); latest changes are always written. */
  live(ev: LiveEvent): void {
    if (this.#closed) return;
    // Behind: the log loop waits for a drain, or the response's buffer is over its high-water mark
    // (a stream that only gets live events has no log loop waiting).
    if (ev.envelope.volatile && (this.waitingForDrain || this.#res.writableNeedDrain)) {
      this.#droppedVolatile++;
      return;
    }
    if (this.#droppedVolatile > 0) {
      this.#write(sseVolatileGapFrame({ dropped: this.#droppedVolatile }));
      this.#droppedVolatile = 0;
    }
    this.#write(sseLiveFrame(ev));
  }

  /** A latest value that is gone; always written (as latest changes are). */
  cleared(c: LatestCleared): void {
    if (this.#closed) return;
    this.#write(sseClearedFrame(c));
  }

  /** Writes a comment-free frame as is (the volatile notice). */
  frame(text: string): void {
    this.#write(text);
  }

  /** Ends the stream (client gone, server closing). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeLive?.();
    for (const t of this.#timers) clearInterval(t);
    this.#abort.abort();
    this.#drained();
    if (!this.#res.writableEnded) this.#res.end();
    this.#onClose();
  }

  #write(chunk: string): boolean {
    if (this.#closed) return true;
    return this.#res.write(chunk);
  }

  #drained(): void {
    const wake = this.#drain;
    this.#drain = undefined;
    wake?.();
  }

  async #run(): Promise<void> {
    const epoch = this.#log.epoch;
    const { pattern, start, pageSize, pollIntervalMs } = this.#o;
    try {
      for await (const item of follow(this.#log, { from: start, pattern, signal: this.#abort.signal, pageSize, pollIntervalMs, visible: this.#o.visible })) {
        if (this.#closed) return;
        let flowing = true;
        if (item.type === 'gap') flowing = this.#write(sseGapFrame(epoch, item));
        else for (const e of item.events) flowing = this.#write(sseFrame(epoch, e)) && flowing;
        if (!flowing && !this.#closed) await new Promise<void>((resolve) => (this.#drain = resolve));
      }
    } catch (err) {
      debug('stream %s: read failed, ending the stream (the client resumes from its last id): %s', pattern, (err as Error).message);
      this.close();
    }
  }
}
