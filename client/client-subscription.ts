// One subscription of the browser client, as the app holds it: a handler or a `for await` loop over
// the events the server sends for its pattern, its cursor (the last seq handed to it), and its
// state with the server. The router (subscription-router.ts) feeds it; its buffer and consumer are
// a bus subscription (shared/bus.ts), which brings one-at-a-time async handlers, bounded buffers,
// iteration and the unsubscribe semantics.
import {
  FeteError,
  formatCursor,
  parseCursor,
  type Cursor,
  type Envelope,
  type GapReason,
  type LatestCleared,
  type PresenceState,
  type SubscribeFrom,
  type Subscription as BusSubscription,
} from '../shared/index.js';
import { asyncDispose } from './async-dispose.js';
import { RecentIds } from '../shared/recent-ids.js';

/** Volatile event ids a subscription remembers (see volatileIds). */
const VOLATILE_IDS_KEPT = 512;

/** Events may be missing for this subscription; delivery goes on after `resumedAt`.
 * 'volatile': volatile events were not received: the server dropped some for this connection,
 * which was too far behind (`after` = `resumedAt` = the cursor), or the connection was lost and is back; events of the `volatile` topics in `topics`
 * (those this pattern can receive) sent meanwhile are gone for good (they are never replayed;
 * the log's events are, and `latest` values are sent again when changed). `after` is the cursor
 * when the connection was lost, `resumedAt` where it stood when the server took the resume (the
 * log's events in between are replayed, not lost).
 * 'pruned': the server's log no longer holds (`after`, `resumedAt`] (retention). 'reset': the
 * cursor was from another log (the server's store was recreated): delivery restarts at the
 * beginning of the new log, whose seqs start over. 'ahead': the cursor was beyond anything the
 * server's log ever held: the same. 'overflow': the subscription's buffer was full (see
 * `bufferSize`) and (`after`, `resumedAt`] were dropped.
 * 'removals': the subscription resumed from a cursor older than the removals of latest values the
 * server keeps (its `retention.removalsMs`), or of another log, so it could not be told which
 * values were removed meanwhile: every latest value it held that the server did not send again
 * on this resume is gone. Those this subscription had handed over were reported through
 * `onCleared` (reason 'gone') just before; an app that keeps values from before a reload drops
 * the others (`after` = `resumedAt` = the cursor). */
export interface Gap {
  pattern: string;
  reason: GapReason | 'overflow' | 'volatile' | 'removals';
  after: number;
  resumedAt: number;
  /** 'volatile' only: the volatile topics whose events in between are lost. */
  topics?: string[];
}

export interface SubscribeOptions {
  /** Where to start: only new events, the whole retained log, or after a cursor (`sub.cursor` of
   * an earlier subscription; a bare seq means the server's current log). @default 'latest' */
  from?: SubscribeFrom;
  /** Called when events may be missing (a resume the log cannot cover, an overflow). @default none */
  onGap?: (gap: Gap) => void;
  /** Events buffered while the consumer is busy; past it they are dropped and reported as an
   * 'overflow' gap. @default the client's `bufferSize` (unbounded) */
  bufferSize?: number;
  /** Presence on the subscribed subject, for topics declared `presence: true` and a pattern
   * without wildcards: `{ state }` lists this connection with a state (JSON, at most 1 KiB by
   * default), `false` subscribes without being listed. @default listed, without state */
  presence?: false | { state?: PresenceState };
  /** Called when the current value of a `latest` subject this subscription handed over is gone:
   * removed by the server's `fete.clearLatest` (reason 'cleared') or past its topic's `ttlMs`
   * (reason 'expired'). In order with the events: the handler (or the `for await` loop) has seen
   * every earlier value first, and a later value of the subject comes after it. Also called after
   * a reconnect for values removed while the connection was down (reason 'gone' when it was down
   * for longer than the server keeps removals: see the 'removals' gap). @default none */
  onCleared?: (notice: LatestCleared) => void;
}

export interface ClientSubscription<E = Envelope> extends AsyncIterable<E> {
  readonly pattern: string;
  /** Where the subscription stands in the server's log (opaque: `<epoch>:<seq>`), after the last
   * event handed to it (or where the server said it starts); a reconnect resumes after it, and a
   * later `subscribe(pattern, h, { from: sub.cursor })` too. `undefined` before the first ack or
   * event. */
  readonly cursor: Cursor | undefined;
  /** True after `unsubscribe()`, the client's `close()`, or a refusal by the server. */
  readonly closed: boolean;
  /** Resolves when the server first acknowledges the subscription (for a pattern that covers
   * `latest` topics, after their current values were received); rejects with the server's
   * FeteError (FORBIDDEN, INVALID_PATTERN...) if refused, or CLOSED if ended before that. */
  readonly ready: Promise<void>;
  /** Sets this connection's presence state on the subscribed subject (kept for resubscribes).
   * Resolves when the server has it (at once while disconnected: it is sent with the next
   * subscribe). Rejects INVALID_PAYLOAD / FORBIDDEN_KEY / TOO_LARGE (the state), NOT_FOUND (not a
   * presence subject, or subscribed with `presence: false`), RATE_LIMITED (too many updates), NETWORK. */
  setPresence(state: PresenceState): Promise<void>;
  /** Stops delivery at once, buffered events included, and tells the server. Idempotent. */
  unsubscribe(): void;
  /** Without a handler only, once. Ends after `unsubscribe()`/`close()`; throws the server's
   * error if it refused the subscription. Leaving the loop early unsubscribes. */
  [Symbol.asyncIterator](): AsyncIterator<E, undefined>;
  /** Unsubscribes, then waits for a running handler call to finish. */
  [Symbol.asyncDispose](): Promise<void>;
}

export type SubscriptionHandler<E> = (event: E, subscription: ClientSubscription<E>) => unknown;

const noop = () => {};

/** A removal travels through the subscription's bus between the events, so that the app sees it
 * in its place; this key marks it (never an envelope the app gets). */
const REMOVAL = Symbol('fete.removal');
type RemovalCarrier = Envelope & { [REMOVAL]: LatestCleared };

/** The bus message that carries a removal. */
export function removalMessage(c: LatestCleared): Envelope {
  const carrier = { id: '', topic: c.topic, subject: c.subject, time: '', headers: {}, payload: undefined, context: {}, [REMOVAL]: c };
  return carrier as RemovalCarrier;
}

/** The removal a bus message carries, or undefined for an event. */
export function removalIn(e: Envelope): LatestCleared | undefined {
  return (e as Partial<RemovalCarrier>)[REMOVAL];
}

/** What the router keeps per subscription. Fields other than the public ones are the router's. */
export class ClientSubscriptionImpl<E = Envelope> implements ClientSubscription<E> {
  /** The seq of the last event handed over (or where the server said it starts), in log `epoch`. */
  seq: number | undefined;
  /** The server log's epoch `seq` belongs to; undefined for a bare seq given as `from`. */
  epoch: string | undefined;
  /** The connection epoch this subscription's `sub` was last sent on. */
  sentOn = -1;
  /** Consecutive failed `sub` attempts, for the retry backoff. */
  attempt = 0;
  retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** `latest` topics: the highest version handed over per subject (in log `epoch`'s store). */
  readonly versions = new Map<string, number>();
  /** `latest` topics: the subjects whose last state handed over is a value (not a removal), with
   * their topic: what a 'removals' gap may take away. */
  readonly holding = new Map<string, string>();
  /** `latest` subjects the server sent (values, even at a version already handed over) since the
   * `sub` on the current connection: a 'removals' gap keeps these. */
  restated = new Set<string>();
  /** `volatile` topics: the ids of the last events handed over, so that one sent twice (an emit
   * resent after a lost ack, through another server) is handed over once. */
  readonly volatileIds = new RecentIds(VOLATILE_IDS_KEPT);
  /** The server acknowledged it on some connection (live events may have reached it). */
  everAcked = false;
  /** The cursor (seq) when a connection it was live on was lost: the next ack tells of lost
   * volatile events. */
  interruptedAt: number | undefined;
  bus!: BusSubscription<Envelope>;
  /** What `sub` says about presence (the state last set included). */
  presence: false | { state?: PresenceState } | undefined;
  /** Set by the router: sends a state to the server. */
  presenceSetter: ((state: PresenceState) => Promise<void>) | undefined;
  /** The connection epoch the server last acknowledged this subscription on. */
  ackedOn = -1;
  /** A state set while a `sub` was in flight: sent once it is acknowledged. */
  presenceDirty = false;
  #error: FeteError | undefined;
  #closed = false;
  #isReady = false;
  #settleReady!: (err?: FeteError) => void;
  readonly ready: Promise<void>;

  constructor(
    readonly sid: string,
    readonly pattern: string,
    readonly from: SubscribeFrom,
    readonly onGap: ((gap: Gap) => void) | undefined,
    readonly onUnsubscribe: (sid: string) => void,
    readonly onCleared: ((notice: LatestCleared) => void) | undefined = undefined,
  ) {
    // A cursor start: a resume before the first ack already starts after it.
    if (from !== 'latest' && from !== 'earliest') {
      const p = parseCursor(from);
      this.seq = p?.seq;
      this.epoch = p?.epoch;
    }
    this.ready = new Promise<void>((resolve, reject) => {
      this.#settleReady = (err) => (err ? reject(err) : resolve());
    });
    // Also reported through the client's status: an app that never awaits `ready` is not
    // punished with an unhandled rejection.
    this.ready.catch(noop);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get cursor(): Cursor | undefined {
    return this.seq === undefined ? undefined : formatCursor(this.epoch, this.seq);
  }

  /** The server acknowledged it. */
  acknowledged(): void {
    if (this.#isReady) return;
    this.#isReady = true;
    this.#settleReady();
  }

  /** Ends it: `error` when the server refused it (iterators then throw it), else CLOSED for `ready`. */
  end(error?: FeteError): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#error = error;
    clearTimeout(this.retryTimer);
    if (!this.#isReady) {
      this.#isReady = true;
      this.#settleReady(error ?? new FeteError('CLOSED', `the subscription to "${this.pattern}" ended before the server acknowledged it`));
    }
    this.bus.unsubscribe();
  }

  /** Tells the app of a removal (an app callback that throws does not break delivery). */
  cleared(notice: LatestCleared): void {
    try {
      this.onCleared?.(notice);
    } catch {
      // The app's callback; as onGap.
    }
  }

  setPresence(state: PresenceState): Promise<void> {
    if (this.#closed) return Promise.reject(new FeteError('CLOSED', `the subscription to "${this.pattern}" is closed`));
    if (!this.presenceSetter) return Promise.reject(new FeteError('INVALID_OPTIONS', 'presence is not available on this client'));
    return this.presenceSetter(state);
  }

  unsubscribe(): void {
    if (this.#closed) return;
    this.end();
    this.onUnsubscribe(this.sid);
  }

  [Symbol.asyncIterator](): AsyncIterator<E, undefined> {
    const inner = this.bus[Symbol.asyncIterator]();
    return {
      next: async () => {
        for (;;) {
          const r = await inner.next();
          if (r.done) {
            if (this.#error) throw this.#error;
            return { done: true, value: undefined };
          }
          const removal = removalIn(r.value.payload);
          if (removal === undefined) return { done: false, value: r.value.payload as E };
          this.cleared(removal);
        }
      },
      return: async () => {
        this.unsubscribe();
        await inner.return?.();
        return { done: true, value: undefined };
      },
    };
  }

  [asyncDispose](): Promise<void> {
    this.unsubscribe();
    return this.bus.drained();
  }
}
