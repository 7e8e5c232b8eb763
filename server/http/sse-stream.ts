// One Server-Sent Events connection: replays the log after a cursor, then follows it live.
//
// No gap, no duplicate: the connection has a single seq cursor and only ever reads forward from
// it (`fete.log.read(cursor)`), one pump at a time. Replay and live are the same loop: an append
// notification (or the poll, for a missed NOTIFY) just asks the pump to run again, and a pump that
// is already running reads once more before it stops. `log.read` never returns past a seq that may
// still commit, so advancing to its cursor cannot skip a late commit.
//
// Bounded buffering: at most one page (`pageSize` events) is written before the pump waits for the
// socket to drain; a slow reader holds back the reads, never the server's memory. A read error ends
// the response: EventSource reconnects with Last-Event-ID and resumes exactly where it was.
import type { ServerResponse } from 'node:http';
import createDebug from 'debug';
import type { Envelope } from '../../shared/index.js';
import { encodeForBrowser } from '../fanout/browser-envelope.js';
import type { FeteLog } from '../types.js';

const debug = createDebug('fete:http');

export interface SseStreamOptions {
  pattern: string;
  /** Whether an event may be sent to this stream's caller (security/exposure.ts). */
  visible: (e: Envelope) => boolean;
  /** Events with seq greater than this are sent. */
  after: number;
  heartbeatMs: number;
  pollIntervalMs: number;
  pageSize: number;
  retryMs: number;
}

/** One SSE message: `id` is the seq, so a reconnect's Last-Event-ID is the resume cursor.
 * superjson text is JSON without raw newlines, so it is always a single `data:` line. The
 * envelope goes out without its server-side context, as over Socket.IO (browser-envelope.ts). */
export function sseFrame(envelope: Envelope): string {
  return `id: ${envelope.seq}\nevent: ${envelope.topic}\ndata: ${encodeForBrowser(envelope)}\n\n`;
}

export class SseStream {
  readonly #res: ServerResponse;
  readonly #log: FeteLog;
  readonly #o: SseStreamOptions;
  #cursor: number;
  #pumping = false;
  #again = false;
  #closed = false;
  #drain: (() => void) | undefined;
  readonly #timers: NodeJS.Timeout[] = [];
  #unsubscribe: (() => void) | undefined;
  readonly #onClose: () => void;

  constructor(res: ServerResponse, log: FeteLog, o: SseStreamOptions, onClose: () => void) {
    this.#res = res;
    this.#log = log;
    this.#o = o;
    this.#cursor = o.after;
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
    res.write(`retry: ${this.#o.retryMs}\n: ok cursor=${this.#cursor}\n\n`);
    res.on('close', () => this.close());
    res.on('drain', () => this.#drained());
    this.#unsubscribe = this.#log.onAppend((head) => {
      if (head === undefined || head > this.#cursor) this.#kick();
    });
    const poll = setInterval(() => this.#kick(), this.#o.pollIntervalMs);
    const ping = setInterval(() => this.#write(': ping\n\n'), this.#o.heartbeatMs);
    poll.unref();
    ping.unref();
    this.#timers.push(poll, ping);
    this.#kick();
  }

  /** True while the client reads slower than events come: the pump waits for the socket to drain. */
  get waitingForDrain(): boolean {
    return this.#drain !== undefined;
  }

  /** Ends the stream (client gone, server closing). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    this.#unsubscribe?.();
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

  #kick(): void {
    if (this.#closed) return;
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    void this.#pump();
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      do {
        this.#again = false;
        for (;;) {
          const page = await this.#log.read(this.#cursor, { pattern: this.#o.pattern, limit: this.#o.pageSize });
          if (this.#closed) return;
          let flowing = true;
          for (const e of page.events) if (this.#o.visible(e)) flowing = this.#write(sseFrame(e)) && flowing;
          const advanced = page.cursor > this.#cursor;
          this.#cursor = Math.max(this.#cursor, page.cursor);
          if (!flowing) await new Promise<void>((resolve) => (this.#drain = resolve));
          if (this.#closed || !advanced) break;
        }
      } while (this.#again && !this.#closed);
    } catch (err) {
      debug('stream %s: read failed, ending the stream (the client resumes from its last id): %s', this.#o.pattern, (err as Error).message);
      this.close();
    } finally {
      this.#pumping = false;
    }
  }
}
