// What one web node asks NATS for: the union of its sockets' patterns, as few NATS subscriptions
// as cover it. Patterns are counted (many sockets share `orders.>`); a pattern covered by another
// one (`orders.*.status` under `orders.>`) gets no subscription of its own, since NATS delivers a
// message once per matching subscription of a connection. When a covering pattern goes, the
// patterns it covered are subscribed before its subscription ends, so nothing they match is left
// unasked for in between (a message the server routed before it knew of a subscription is caught
// by the commit notices: see nats-bus.ts).
export interface InterestSink {
  subscribe(pattern: string): void;
  unsubscribe(pattern: string): void;
}

export class Interest {
  readonly #count = new Map<string, number>();
  /** Patterns with a NATS subscription: none covers another. */
  readonly #active = new Set<string>();
  readonly #sink: InterestSink;
  readonly #covers: (a: string, b: string) => boolean;

  constructor(sink: InterestSink, covers: (a: string, b: string) => boolean) {
    this.#sink = sink;
    this.#covers = covers;
  }

  /** The patterns with a NATS subscription now. */
  get subscribed(): readonly string[] {
    return [...this.#active];
  }

  add(pattern: string): void {
    const n = this.#count.get(pattern) ?? 0;
    this.#count.set(pattern, n + 1);
    if (n === 0) this.#activate(pattern);
  }

  /** Subscribes `pattern` unless an active pattern covers it, ending the ones it covers. */
  #activate(pattern: string): void {
    for (const a of this.#active) if (this.#covers(a, pattern)) return;
    this.#sink.subscribe(pattern);
    for (const a of [...this.#active])
      if (this.#covers(pattern, a)) {
        this.#active.delete(a);
        this.#sink.unsubscribe(a);
      }
    this.#active.add(pattern);
  }

  remove(pattern: string): void {
    const n = this.#count.get(pattern);
    if (n === undefined) return;
    if (n > 1) {
      this.#count.set(pattern, n - 1);
      return;
    }
    this.#count.delete(pattern);
    if (!this.#active.has(pattern)) return;
    this.#active.delete(pattern);
    // Patterns it covered and nothing else covers: subscribed before its subscription ends.
    for (const p of this.#count.keys()) if (this.#covers(pattern, p)) this.#activate(p);
    this.#sink.unsubscribe(pattern);
  }

  clear(): void {
    for (const a of this.#active) this.#sink.unsubscribe(a);
    this.#active.clear();
    this.#count.clear();
  }
}
