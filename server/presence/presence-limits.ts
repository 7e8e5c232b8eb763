// How often and how much presence one caller may watch. A socket holds its own buckets
// (presence-session.ts); a caller without a connection of its own (GET /presence over HTTP, one
// request per watch) is counted per principal on this process, so that opening many requests is no
// way around the socket's limits: the same rate of watches (`presence.maxStateUpdatesPerSecond`,
// bursts of 32) and at most as many open watch streams as one socket may hold watches (32).
import { FeteError } from '../../shared/index.js';
import { commandActor } from '../commands/command-actor.js';
import { InFlight } from '../commands/in-flight.js';
import type { Caller } from '../security/security.js';

/** A token bucket: `rate` a second, bursts of `burst`. */
export class Bucket {
  #tokens: number;
  #at = Date.now();
  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {
    this.#tokens = burst;
  }

  /** Takes a token; false when there is none. */
  take(): boolean {
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Whether the bucket is full again (as good as a new one: it can be forgotten). */
  full(): boolean {
    this.#refill();
    return this.#tokens >= this.burst;
  }

  #refill(): void {
    const now = Date.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) / 1000) * this.rate);
    this.#at = now;
  }
}

/** Who a caller is for its limits: its tenant and its actor (command-actor.ts, as JSON: both are
 * app strings and may hold any character). Every anonymous caller of a tenant is one caller. */
function keyOf(caller: Caller): string {
  return JSON.stringify([caller.tenant, commandActor(caller.principal)]);
}

export class CallerLimits {
  readonly #rate: number;
  readonly #burst: number;
  readonly #maxOpen: number;
  readonly #buckets = new Map<string, Bucket>();
  /** Open watch streams per caller. */
  readonly #open: InFlight;
  #sweptAt = Date.now();

  /** `rate` watches a second per caller with bursts of `burst`; `maxOpen` watch streams open at once. */
  constructor(rate: number, burst: number, maxOpen = burst) {
    this.#rate = rate;
    this.#burst = burst;
    this.#maxOpen = maxOpen;
    this.#open = new InFlight(maxOpen);
  }

  /** Counts one watch (a stream opened, a snapshot read). Throws RATE_LIMITED (retryable) past the
   * caller's rate; INTERNAL for a principal without an `id` that cannot be serialized. */
  take(caller: Caller): void {
    this.#sweep();
    const key = keyOf(caller);
    let b = this.#buckets.get(key);
    if (!b) this.#buckets.set(key, (b = new Bucket(this.#rate, this.#burst)));
    if (!b.take()) throw new FeteError('RATE_LIMITED', 'too many presence watches by this caller: retry later', { details: { limit: this.#rate } });
  }

  /** Holds one open watch stream of the caller until the returned release (idempotent). Throws
   * RATE_LIMITED when the caller has `maxOpen` open already. */
  open(caller: Caller): () => void {
    const release = this.#open.tryTake(keyOf(caller));
    if (!release)
      throw new FeteError('RATE_LIMITED', `a caller may hold at most ${this.#maxOpen} presence watch streams open: close one first`, { details: { limit: this.#maxOpen } });
    return release;
  }

  /** Open watch streams of `caller` (tests). */
  openCount(caller: Caller): number {
    return this.#open.count(keyOf(caller));
  }

  /** Forgets full buckets, at most once per refill period: a caller seen once costs nothing later. */
  #sweep(): void {
    const now = Date.now();
    if (now - this.#sweptAt < (this.#burst / this.#rate) * 1000) return;
    this.#sweptAt = now;
    for (const [key, b] of this.#buckets) if (b.full()) this.#buckets.delete(key);
  }
}
