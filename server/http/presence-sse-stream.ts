// One presence watch as Server-Sent Events (GET /presence with `Accept: text/event-stream`,
// presence-route.ts): the members first, then each change, with the shapes of the Socket.IO
// presence packets (shared/presence.ts):
//   event: snapshot                 data: { "members": PresenceMember[] }   (the `pwatch` ack's)
//   event: join | leave | update    data: PresenceChange { type, member }  (one of a `pev`'s changes)
// The changes of one moment are written as one chunk. Nothing here is in the log, so no message
// has an `id`: a reconnecting EventSource gets a fresh snapshot, which is its re-sync.
//
// Bounded: a client that reads slower than members change (more than `maxBufferedBytes` unsent)
// is sent no more changes; once its response drains it gets a new `snapshot` of the members then
// (held current by its own watch), and changes from there. A stalled reader costs at most about
// `maxBufferedBytes`, never a queue of every change, and loses no member, only the steps between.
import type { ServerResponse } from 'node:http';
import { openSseResponse } from './sse-stream.js';
import type { PresenceChange, PresenceMember } from '../../shared/index.js';

export interface PresenceSseStreamOptions {
  heartbeatMs: number;
  retryMs: number;
  maxBufferedBytes: number;
  /** The members now, for a re-sync after the client fell behind (presence-hub.ts `held`). */
  members: () => PresenceMember[];
}

export function presenceSnapshotFrame(members: readonly PresenceMember[]): string {
  return `event: snapshot\ndata: ${JSON.stringify({ members })}\n\n`;
}

/** Frames by change: the mirror hands the same change object to every watch of its region
 * (presence-mirror.ts), so a crowd of SSE watchers of one room costs one JSON.stringify per change,
 * not one per watcher (as presence-broadcast.ts encodes a socket packet once). */
const framed = new WeakMap<PresenceChange, string>();

export function presenceChangeFrame(change: PresenceChange): string {
  let frame = framed.get(change);
  if (frame === undefined) {
    frame = `event: ${change.type}\ndata: ${JSON.stringify({ type: change.type, member: change.member })}\n\n`;
    framed.set(change, frame);
  }
  return frame;
}

export class PresenceSseStream {
  readonly #res: ServerResponse;
  readonly #o: PresenceSseStreamOptions;
  readonly #onClose: () => void;
  #out: string[] = [];
  #outBytes = 0;
  #scheduled = false;
  /** The client fell behind: changes are dropped until a snapshot after the drain. */
  #behind = false;
  #timer: NodeJS.Timeout | undefined;
  #started = false;
  #closed = false;

  constructor(res: ServerResponse, o: PresenceSseStreamOptions, onClose: () => void) {
    this.#res = res;
    this.#o = o;
    this.#onClose = onClose;
    res.on('close', () => this.close());
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends the headers and the members (synchronously, before any change: presence-hub.ts). */
  start(members: readonly PresenceMember[]): void {
    if (this.#closed || this.#started) return;
    this.#started = true;
    const res = this.#res;
    // `vary`: the same URL answers JSON without `Accept: text/event-stream`.
    this.#timer = openSseResponse(res, {
      retryMs: this.#o.retryMs,
      heartbeatMs: this.#o.heartbeatMs,
      headers: { vary: 'accept' },
      first: `\n${presenceSnapshotFrame(members)}`,
      ping: () => this.#write(': ping\n\n'),
    });
    res.on('drain', () => this.#drained());
  }

  /** A change of the watch: written with the others of this tick, or dropped while behind. */
  change(change: PresenceChange): void {
    if (this.#closed || !this.#started || this.#behind) return;
    const frame = presenceChangeFrame(change);
    const queued = this.#res.writableLength + this.#outBytes;
    if (queued > 0 && queued + frame.length > this.#o.maxBufferedBytes) {
      this.#behind = true;
      this.#out = [];
      this.#outBytes = 0;
      if (!this.#res.writableNeedDrain) setImmediate(() => this.#drained());
      return;
    }
    this.#out.push(frame);
    this.#outBytes += frame.length;
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#flush());
  }

  /** Ends the stream (client gone, router closed, fete stopped). Idempotent. A stream not started
   * leaves its response alone (the route answers it with an error). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#out = [];
    clearInterval(this.#timer);
    if (this.#started && !this.#res.writableEnded) this.#res.end();
    this.#onClose();
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#out.length === 0) return;
    const chunk = this.#out.join('');
    this.#out = [];
    this.#outBytes = 0;
    this.#write(chunk);
  }

  #drained(): void {
    if (!this.#behind || this.#closed) return;
    if (this.#res.writableNeedDrain) return; // the 'drain' event comes
    this.#behind = false;
    this.#write(presenceSnapshotFrame(this.#o.members()));
  }

  #write(chunk: string): void {
    if (!this.#closed) this.#res.write(chunk);
  }
}
