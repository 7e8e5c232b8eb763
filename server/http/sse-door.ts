// The SSE streams of one Express router as a door of the node's one live tail
// (fanout/node-tail.ts), the door Socket.IO subscriptions also use: each event the tail routes is
// framed once (sseFrame) for every stream that takes it, and the frames a stream took in one
// routing batch are written to it as one chunk. Made at the router's first stream, so a router that
// never streams starts no tail.
import type { Envelope } from '../../shared/index.js';
import type { NodeTail, TailDoor } from '../fanout/node-tail.js';
import type { FeteLog } from '../types.js';
import { SseStream, type SseStreamHost, sseFrame } from './sse-stream.js';

export class SseDoor implements TailDoor<SseStream>, SseStreamHost {
  readonly tail: NodeTail;
  readonly streams = new Set<SseStream>();
  /** Times a slow stream stopped live delivery and caught up from the log. */
  overflows = 0;
  /** Streams that took events since the last `routed`. */
  readonly #took = new Set<SseStream>();
  #closed = false;

  constructor(tail: NodeTail) {
    this.tail = tail;
    tail.open(this);
  }

  /** True once closed (the router's `close()`, the fete stopping): it takes no new stream. */
  get closed(): boolean {
    return this.#closed;
  }

  get log(): FeteLog {
    return this.tail.log;
  }

  tailCursor(): number {
    return this.tail.cursor;
  }

  overflowed(): void {
    this.overflows++;
  }

  route(e: Envelope, streams: readonly SseStream[]): void {
    const frame = sseFrame(this.tail.log.epoch, e);
    const seq = e.seq!;
    for (const s of streams) if (s.take(seq, frame)) this.#took.add(s);
  }

  routed(): void {
    if (this.#took.size === 0) return;
    for (const s of this.#took) s.flushOut();
    this.#took.clear();
  }

  /** Registers `stream` with the tail and starts it (synchronously: see SseStream.start). */
  add(stream: SseStream): void {
    this.streams.add(stream);
    this.tail.register(this, stream);
    stream.start();
  }

  /** Called by a stream when it ends. */
  remove(stream: SseStream): void {
    this.streams.delete(stream);
    this.#took.delete(stream);
    this.tail.unregister(this, stream);
  }

  /** Ends every stream and leaves the tail. */
  close(): void {
    this.#closed = true;
    for (const s of [...this.streams]) s.close();
    this.tail.closeDoor(this);
  }
}
