// What one web node asks NATS for: the union of its sockets' patterns, as few NATS subscriptions
// as cover it. Patterns are counted (many sockets share `orders.>`); a pattern covered by another
// one (`orders.*.status` under `orders.>`) gets no subscription of its own, since NATS delivers a
// message once per matching subscription of a connection. When a covering pattern goes, the
// patterns it covered are subscribed before its subscription ends, so nothing they match is left
// unasked for in between (a message the server routed before it knew of a subscription is caught
// by the commit notices: see nats-bus.ts).
//
// Cost. Every socket `sub` and `unsub` lands here, and a browser may hold 256 subscriptions per
// socket, so a node holds thousands of patterns. The counted and the active patterns each sit in a
// token trie (pattern-trie.ts), and a change walks only the branches that can cover, or be covered
// by, the pattern changed: an add compares it with the active patterns covering it and those it
// covers; a remove of an active pattern compares it with each counted pattern it covers, and each
// of those with the counted patterns covering it. Scanning every active pattern per change (and
// again per pattern handed back) instead took 16 million comparisons and 17.7 s for one sub and
// unsub of `>` over 4,000 patterns; with the tries, 8,000 comparisons and 26 ms
// (test/bus/nats-interest-cost.test.ts).
import { PatternTrie } from './pattern-trie.js';

export interface InterestSink {
  subscribe(pattern: string): void;
  unsubscribe(pattern: string): void;
}

/**
 * A node's counted patterns and the NATS subscriptions that cover them.
 *
 * Invariant: the active patterns (those with a subscription) are exactly the counted patterns no
 * other counted pattern covers. `covers(a, b)` must be a partial order on patterns that the token
 * rule of pattern-trie.ts describes (nats-subjects.ts `patternCovers`); it confirms every
 * candidate the tries find. Patterns are not validated here (the fanout validated them).
 */
export class Interest {
  readonly #count = new Map<string, number>();
  /** Every counted pattern. */
  readonly #counted = new PatternTrie();
  /** Patterns with a NATS subscription, in the order subscribed: none covers another. */
  readonly #active = new Set<string>();
  readonly #activeTrie = new PatternTrie();
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

  /** Counts one more holder of `pattern`; the first one subscribes it unless an active pattern
   * covers it, ending (after subscribing) the active patterns it covers. */
  add(pattern: string): void {
    const n = this.#count.get(pattern) ?? 0;
    this.#count.set(pattern, n + 1);
    if (n > 0) return;
    this.#counted.add(pattern);
    if (this.#activeTrie.someCovering(pattern, (a) => this.#covers(a, pattern))) return;
    const ended: string[] = [];
    this.#activeTrie.someCovered(pattern, (a) => void (this.#covers(pattern, a) && ended.push(a)));
    this.#sink.subscribe(pattern);
    for (const a of ended) {
      this.#deactivate(a);
      this.#sink.unsubscribe(a);
    }
    this.#activate(pattern);
  }

  /** Counts one holder less; the last one's pattern, if active, hands what it covered (and no
   * other counted pattern covers) to subscriptions of their own before its own ends. Removing a
   * pattern not counted does nothing. */
  remove(pattern: string): void {
    const n = this.#count.get(pattern);
    if (n === undefined) return;
    if (n > 1) {
      this.#count.set(pattern, n - 1);
      return;
    }
    this.#count.delete(pattern);
    this.#counted.delete(pattern);
    if (!this.#active.has(pattern)) return;
    this.#deactivate(pattern);
    // The counted patterns it covered that now have no counted pattern above them. One above them
    // is either active (so it covers them still) or handed back here too: either way not theirs.
    const handed: string[] = [];
    this.#counted.someCovered(pattern, (p) => {
      if (this.#covers(pattern, p) && !this.#counted.someCovering(p, (q) => q !== p && this.#covers(q, p))) handed.push(p);
    });
    for (const p of handed) {
      this.#activate(p);
      this.#sink.subscribe(p);
    }
    this.#sink.unsubscribe(pattern);
  }

  clear(): void {
    for (const a of this.#active) this.#sink.unsubscribe(a);
    this.#active.clear();
    this.#activeTrie.clear();
    this.#count.clear();
    this.#counted.clear();
  }

  #activate(pattern: string): void {
    this.#active.add(pattern);
    this.#activeTrie.add(pattern);
  }

  #deactivate(pattern: string): void {
    this.#active.delete(pattern);
    this.#activeTrie.delete(pattern);
  }
}
