// A bounded window of recently seen keys (event ids): `add` says whether a key is new. Used where
// an event without a seq may arrive twice (a volatile emit resent after a lost ack, by the same
// process or through another node) and must be handed over once. Holds at most `max` keys, and,
// with `maxAgeMs`, forgets keys older than that: a repeat past the window is not recognised. A key
// may carry a value (the server keeps the version a latest value's id got, to answer a resend).

export class RecentIds<V = undefined> {
  readonly #max: number;
  readonly #maxAgeMs: number | undefined;
  /** Key -> when it was added and its value (insertion order = age order). */
  readonly #seen = new Map<string, { at: number; value: V | undefined }>();

  /** `max`: keys kept (>= 1); `maxAgeMs`: how long a key is kept, in ms (@default no limit). */
  constructor(max: number, maxAgeMs?: number) {
    this.#max = Math.max(1, Math.floor(max));
    this.#maxAgeMs = maxAgeMs;
  }

  /** Records `key` (with `value`); false if it was seen within the window (then nothing changes). */
  add(key: string, now: number = Date.now(), value?: V): boolean {
    this.#expire(now);
    if (this.#seen.has(key)) return false;
    this.#seen.set(key, { at: now, value });
    if (this.#seen.size > this.#max) this.#seen.delete(this.#seen.keys().next().value!);
    return true;
  }

  /** Whether `key` was seen within the window (nothing recorded). */
  has(key: string, now: number = Date.now()): boolean {
    this.#expire(now);
    return this.#seen.has(key);
  }

  /** The value `key` was added with, if it was seen within the window and had one. */
  get(key: string, now: number = Date.now()): V | undefined {
    this.#expire(now);
    return this.#seen.get(key)?.value;
  }

  /** Forgets `key` (an emit whose publish failed may be sent again). */
  delete(key: string): void {
    this.#seen.delete(key);
  }

  clear(): void {
    this.#seen.clear();
  }

  get size(): number {
    return this.#seen.size;
  }

  #expire(now: number): void {
    if (this.#maxAgeMs === undefined) return;
    for (const [key, { at }] of this.#seen) {
      if (now - at < this.#maxAgeMs) break;
      this.#seen.delete(key);
    }
  }
}
