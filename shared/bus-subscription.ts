// The subscription side of the bus (shared/bus.ts): one subscription's buffer, its backpressure
// policy, its consumer (a handler drained in microtask bursts, or an async iterator), and the slow
// path of a publish blocked on full 'block' subscriptions. Internal: only bus.ts imports it.
import { BoundedQueue } from './bounded-queue.js';
import { FeteError } from './errors.js';
import type { BackpressurePolicy, BusHandler, BusMessage, DropReason, Subscription } from './bus.js';

// Browsers without explicit resource management: the registered symbol that TypeScript's
// `await using` helpers also fall back to. Not installed on the global Symbol.
export const asyncDispose: typeof Symbol.asyncDispose =
  (Symbol.asyncDispose as typeof Symbol.asyncDispose | undefined) ??
  (Symbol.for('Symbol.asyncDispose') as typeof Symbol.asyncDispose);

// What a subscription did with an offered message.
const SKIPPED = 0;
export const ACCEPTED = 1;
const REFUSED = 2;
export const MUST_WAIT = 3;
type Offer = typeof SKIPPED | typeof ACCEPTED | typeof REFUSED | typeof MUST_WAIT;

type Reader<P> = (result: IteratorResult<BusMessage<P>, undefined>) => void;

function done<P>(): Promise<IteratorResult<BusMessage<P>, undefined>> {
  return Promise.resolve({ done: true, value: undefined });
}

/** What a subscription needs from its bus: counting, observer hooks, and leaving the index. */
export interface SubscriptionHost<P> {
  detach(sub: SubscriptionImpl<P>): void;
  countDrop(msg: BusMessage<P>, sub: SubscriptionImpl<P>, reason: DropReason): void;
  delivering(msg: BusMessage<P>, sub: SubscriptionImpl<P>): void;
  reportError(err: unknown, msg: BusMessage<P>, sub: SubscriptionImpl<P>): void;
}

export class SubscriptionImpl<P> implements Subscription<P> {
  readonly #bus: SubscriptionHost<P>;
  readonly #handler: BusHandler<P> | undefined;
  readonly #policy: BackpressurePolicy;
  readonly #predicate: ((msg: BusMessage<P>) => boolean) | undefined;
  readonly #queue: BoundedQueue<BusMessage<P>>;
  /** Publishes waiting for room ('block'), first come first served. Non-empty only while the
   * queue is full, so a new publish can never overtake one that is waiting. */
  readonly #blocked: BlockedPublish<P>[] = [];
  /** Pending `next()` calls of the iterator; non-empty only while the queue is empty. */
  readonly #readers: Reader<P>[] = [];
  #drainWaiters: (() => void)[] | undefined;
  /** Handler mode: a drain is scheduled or a handler call is in flight. */
  #running = false;
  /** The message whose async handler call is in flight, for onError. */
  #current: BusMessage<P> | undefined;
  #iterated = false;
  #closed = false;
  #unsubscribed = false;
  #dropped = 0;

  constructor(
    bus: SubscriptionHost<P>,
    readonly pattern: string,
    handler: BusHandler<P> | undefined,
    bufferSize: number,
    policy: BackpressurePolicy,
    predicate: ((msg: BusMessage<P>) => boolean) | undefined,
  ) {
    this.#bus = bus;
    this.#handler = handler;
    this.#policy = policy;
    this.#predicate = predicate;
    this.#queue = new BoundedQueue(bufferSize);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get dropped(): number {
    return this.#dropped;
  }

  get pending(): number {
    return this.#queue.length;
  }

  get hasHandler(): boolean {
    return this.#handler !== undefined;
  }

  /** Routes one published message here: buffer it, hand it to a waiting reader, refuse it by
   * policy, or tell the publisher to wait. */
  offer(msg: BusMessage<P>): Offer {
    if (this.#closed) return SKIPPED;
    // Re-checked after user code (predicate, onDrop) that may have unsubscribed this subscription.
    if (this.#predicate !== undefined && (!this.#test(msg) || this.#closed)) return SKIPPED;
    if (this.#readers.length !== 0) {
      // A reader waits only while the queue is empty: hand it over directly.
      const read = this.#readers.shift()!;
      this.#bus.delivering(msg, this);
      read({ done: false, value: msg });
      return ACCEPTED;
    }
    const queue = this.#queue;
    if (queue.isFull || this.#blocked.length !== 0) {
      if (this.#policy === 'block') return MUST_WAIT;
      if (this.#policy === 'drop-newest') {
        this.#drop(msg, 'full');
        return REFUSED;
      }
      this.#drop(queue.shift()!, 'evicted');
      if (this.#closed) return SKIPPED;
    }
    queue.push(msg);
    if (this.#handler !== undefined && !this.#running) {
      this.#running = true;
      queueMicrotask(this.#runDrain);
    }
    return ACCEPTED;
  }

  /** Called by a blocked publish: queue it behind the others waiting here. */
  enqueueBlocked(pub: BlockedPublish<P>): void {
    this.#blocked.push(pub);
  }

  /** Called by an aborted publish: stop waiting here. */
  cancelBlocked(pub: BlockedPublish<P>): void {
    const i = this.#blocked.indexOf(pub);
    if (i < 0) return;
    this.#blocked.splice(i, 1);
    this.#drop(pub.msg, 'aborted');
  }

  unsubscribe(): void {
    if (this.#unsubscribed) return;
    this.#unsubscribed = true;
    this.#closed = true;
    this.#bus.detach(this);
    for (const msg of this.#queue.clear()) this.#drop(msg, 'unsubscribed');
    this.#releaseBlocked('unsubscribed');
    this.#endReaders();
    if (!this.#running) this.#notifyDrained();
  }

  /** The bus closed: accept nothing more, release blocked publishers, keep the buffer. */
  closeFromBus(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#releaseBlocked('closed');
    if (this.#queue.length === 0) this.#endReaders();
  }

  drained(): Promise<void> {
    if (!this.#running && (this.#unsubscribed || this.#queue.length === 0)) return Promise.resolve();
    return new Promise((resolve) => (this.#drainWaiters ??= []).push(resolve));
  }

  [asyncDispose](): Promise<void> {
    this.unsubscribe();
    return this.drained();
  }

  [Symbol.asyncIterator](): AsyncIterator<BusMessage<P>, undefined> {
    if (this.#handler !== undefined)
      throw new TypeError(`subscription to "${this.pattern}" has a handler; it cannot also be iterated`);
    if (this.#iterated) throw new TypeError(`subscription to "${this.pattern}" is already being iterated`);
    this.#iterated = true;
    return {
      next: () => this.#next(),
      return: () => {
        this.unsubscribe();
        return done<P>();
      },
    };
  }

  // ---- consuming ----

  /** Takes the oldest buffered message; the room it leaves goes to the first blocked publish. */
  #take(): BusMessage<P> | undefined {
    const msg = this.#queue.shift();
    if (this.#blocked.length !== 0) {
      const pub = this.#blocked.shift()!;
      this.#queue.push(pub.msg);
      pub.settleOne(true);
    }
    return msg;
  }

  #next(): Promise<IteratorResult<BusMessage<P>, undefined>> {
    if (this.#unsubscribed) return done<P>();
    const msg = this.#take();
    if (msg !== undefined) {
      this.#bus.delivering(msg, this);
      if (this.#queue.length === 0) this.#notifyDrained();
      return Promise.resolve({ done: false, value: msg });
    }
    if (this.#closed) return done<P>();
    return new Promise((resolve) => this.#readers.push(resolve));
  }

  // Handler mode. One microtask per burst runs every buffered message through the handler; sync
  // handlers run back to back with no promise per message, an async one parks the loop on its
  // promise (with callbacks bound once, here) and the loop resumes when it settles.
  readonly #runDrain = (): void => this.#drain();
  readonly #handlerDone = (): void => {
    this.#current = undefined;
    this.#drain();
  };
  readonly #handlerFailed = (err: unknown): void => {
    const msg = this.#current!;
    this.#current = undefined;
    this.#bus.reportError(err, msg, this);
    this.#drain();
  };

  #drain(): void {
    const handler = this.#handler!;
    // Checked before every call: an unsubscribe (even from inside the handler) stops the loop.
    while (!this.#unsubscribed) {
      const msg = this.#take();
      if (msg === undefined) break;
      this.#bus.delivering(msg, this);
      let result: unknown;
      try {
        result = handler(msg, this);
      } catch (err) {
        this.#bus.reportError(err, msg, this);
        continue;
      }
      if (isThenable(result)) {
        this.#current = msg;
        try {
          result.then(this.#handlerDone, this.#handlerFailed);
          return;
        } catch (err) {
          // A thenable whose then() throws: treat as a failed call and go on.
          this.#current = undefined;
          this.#bus.reportError(err, msg, this);
        }
      }
    }
    this.#running = false;
    this.#notifyDrained();
  }

  // ---- helpers ----

  #test(msg: BusMessage<P>): boolean {
    try {
      return this.#predicate!(msg) === true;
    } catch (err) {
      this.#bus.reportError(err, msg, this);
      return false;
    }
  }

  #drop(msg: BusMessage<P>, reason: DropReason): void {
    this.#dropped++;
    this.#bus.countDrop(msg, this, reason);
  }

  #releaseBlocked(reason: DropReason): void {
    const blocked = this.#blocked.splice(0);
    for (const pub of blocked) {
      this.#drop(pub.msg, reason);
      pub.settleOne(false);
    }
  }

  #endReaders(): void {
    const readers = this.#readers.splice(0);
    for (const read of readers) read({ done: true, value: undefined });
  }

  #notifyDrained(): void {
    const waiters = this.#drainWaiters;
    if (waiters === undefined) return;
    this.#drainWaiters = undefined;
    for (const resolve of waiters) resolve();
  }
}

/** The slow path of one publish that found at least one full 'block' subscription: counts the
 * subscriptions it still waits on and settles the publish when none is left or the signal aborts. */
export class BlockedPublish<P> {
  readonly #subs: SubscriptionImpl<P>[] = [];
  readonly #signal: AbortSignal | undefined;
  #waiting = 0;
  #accepted = 0;
  #started = false;
  #settled = false;
  #resolve!: (accepted: number) => void;
  #reject!: (err: unknown) => void;

  constructor(
    readonly msg: BusMessage<P>,
    signal: AbortSignal | undefined,
  ) {
    this.#signal = signal;
  }

  waitFor(sub: SubscriptionImpl<P>): void {
    this.#waiting++;
    this.#subs.push(sub);
    sub.enqueueBlocked(this);
  }

  start(acceptedSoFar: number): Promise<number> {
    this.#accepted += acceptedSoFar;
    this.#started = true;
    const promise = new Promise<number>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    if (this.#waiting === 0) this.#finish();
    else if (this.#signal !== undefined) {
      if (this.#signal.aborted) this.#onAbort();
      else this.#signal.addEventListener('abort', this.#onAbort);
    }
    return promise;
  }

  /** One subscription stopped waiting: it accepted the message, or released it (closed). */
  settleOne(accepted: boolean): void {
    if (accepted) this.#accepted++;
    this.#waiting--;
    if (this.#waiting === 0 && this.#started) this.#finish();
  }

  readonly #onAbort = (): void => {
    if (this.#settled) return;
    this.#settled = true;
    this.#signal!.removeEventListener('abort', this.#onAbort);
    // Subscriptions that accepted already keep the message; the rest stop waiting (drop 'aborted').
    for (const sub of this.#subs) sub.cancelBlocked(this);
    this.#reject(abortError(this.#signal!));
  };

  #finish(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#resolve(this.#accepted);
  }
}
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

export function abortError(signal: AbortSignal): FeteError {
  return new FeteError('ABORTED', 'publish aborted', { cause: signal.reason });
}
