// A web node's NATS interest (server/bus/nats-interest.ts) as properties over random sequences of
// add, remove and clear, on patterns of two tenants drawn from a small alphabet (so they cover one
// another often). After every step the NATS subscriptions equal those of the naive algorithm the
// interest used before its tries (kept below as the reference), and also the specification: the
// counted patterns no other counted pattern covers. During every step, a pattern counted before
// and after it is covered by a live subscription after each single subscribe or unsubscribe (a
// covering pattern's subscription ends only after what it covered is asked for), and the sink is
// never asked to subscribe a live pattern or end one that is not. The tries' two walks
// (server/bus/pattern-trie.ts) are checked against patternCovers over every held pattern.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Interest, type InterestSink } from '../../server/bus/nats-interest.js';
import { interest, patternCovers } from '../../server/bus/nats-subjects.js';
import { PatternTrie } from '../../server/bus/pattern-trie.js';

/** The interest before its tries: every change scans the active patterns, and a remove activates
 * every counted pattern the removed one covered, one at a time, in the order they were counted. */
class NaiveInterest {
  readonly #count = new Map<string, number>();
  readonly #active = new Set<string>();
  constructor(
    readonly sink: InterestSink,
    readonly covers: (a: string, b: string) => boolean,
  ) {}

  add(pattern: string): void {
    const n = this.#count.get(pattern) ?? 0;
    this.#count.set(pattern, n + 1);
    if (n === 0) this.#activate(pattern);
  }

  #activate(pattern: string): void {
    for (const a of this.#active) if (this.covers(a, pattern)) return;
    this.sink.subscribe(pattern);
    for (const a of [...this.#active])
      if (this.covers(pattern, a)) {
        this.#active.delete(a);
        this.sink.unsubscribe(a);
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
    for (const p of this.#count.keys()) if (this.covers(pattern, p)) this.#activate(p);
    this.sink.unsubscribe(pattern);
  }

  clear(): void {
    for (const a of this.#active) this.sink.unsubscribe(a);
    this.#active.clear();
    this.#count.clear();
  }
}

/** A sink that keeps the live set, records each call, and fails on a double subscribe or an
 * unsubscribe of nothing. */
function recordingSink() {
  const live = new Set<string>();
  const calls: Array<['+' | '-', string]> = [];
  const sink: InterestSink = {
    subscribe(p) {
      expect(live.has(p), `subscribe ${p} while subscribed`).toBe(false);
      live.add(p);
      calls.push(['+', p]);
    },
    unsubscribe(p) {
      expect(live.has(p), `unsubscribe ${p} while not subscribed`).toBe(true);
      live.delete(p);
      calls.push(['-', p]);
    },
  };
  return { sink, live, calls };
}

const sorted = (xs: Iterable<string>) => [...xs].sort();
const coveredBy = (live: Iterable<string>, p: string) => [...live].some((a) => patternCovers(a, p));

/** Patterns of 1 to 4 tokens over `a`, `b` and `*`, some ending in `>`, as interests of tenant
 * `t1` or `t2`. */
const patterns = fc
  .tuple(
    fc.constantFrom('t1', 't2'),
    fc.array(fc.constantFrom('a', 'b', '*'), { minLength: 0, maxLength: 4 }),
    fc.boolean(),
  )
  .filter(([, tokens, rest]) => tokens.length > 0 || rest)
  .map(([tenant, tokens, rest]) => interest(tenant, [...tokens, ...(rest ? ['>'] : [])].join('.')));

type Step = { op: 'add'; pattern: string } | { op: 'remove'; pattern: string } | { op: 'removeHeld'; index: number } | { op: 'clear' };

const steps = fc.array(
  fc.oneof(
    { weight: 10, arbitrary: patterns.map((pattern): Step => ({ op: 'add', pattern })) },
    { weight: 2, arbitrary: patterns.map((pattern): Step => ({ op: 'remove', pattern })) },
    { weight: 8, arbitrary: fc.nat().map((index): Step => ({ op: 'removeHeld', index })) },
    { weight: 1, arbitrary: fc.constant<Step>({ op: 'clear' }) },
  ),
  { maxLength: 80 },
);

describe("a web node's NATS interest, as a property", () => {
  it('after any add/remove sequence subscribes what the naive algorithm does, never leaving a held pattern unasked for in between', () => {
    fc.assert(
      fc.property(steps, (seq) => {
        const mine = recordingSink();
        const ref = recordingSink();
        const i = new Interest(mine.sink, patternCovers);
        const naive = new NaiveInterest(ref.sink, patternCovers);
        /** The model's counts: one entry per holder. */
        const held: string[] = [];
        for (const step of seq) {
          const before = new Set(held);
          const liveBefore = new Set(mine.live);
          mine.calls.length = 0;
          let pattern: string | undefined;
          if (step.op === 'clear') {
            i.clear();
            naive.clear();
            held.length = 0;
          } else {
            if (step.op === 'removeHeld') {
              if (held.length === 0) continue;
              pattern = held[step.index % held.length]!;
            } else pattern = step.pattern;
            if (step.op === 'add') {
              i.add(pattern);
              naive.add(pattern);
              held.push(pattern);
            } else {
              i.remove(pattern);
              naive.remove(pattern);
              const k = held.indexOf(pattern);
              if (k >= 0) held.splice(k, 1);
            }
          }
          const after = new Set(held);

          expect(sorted(mine.live), `after ${step.op} ${pattern ?? ''}`).toEqual(sorted(ref.live));
          expect(sorted(i.subscribed)).toEqual(sorted(mine.live));
          const maximal = [...after].filter((p) => ![...after].some((q) => q !== p && patternCovers(q, p)));
          expect(sorted(mine.live)).toEqual(sorted(maximal));

          if (step.op === 'clear') continue;
          // Replay the step's calls: a pattern held throughout stays covered after each one.
          const live = liveBefore;
          const kept = [...before].filter((p) => after.has(p));
          for (const [sign, p] of mine.calls) {
            if (sign === '+') live.add(p);
            else live.delete(p);
            for (const k of kept) expect(coveredBy(live, k), `${k} uncovered after ${sign}${p} in ${step.op} ${pattern}`).toBe(true);
          }
        }
      }),
      { numRuns: 400 },
    );
  });

  it("the pattern trie's walks find exactly the held patterns that cover, or are covered by, a pattern", () => {
    fc.assert(
      fc.property(fc.array(patterns, { maxLength: 40 }), fc.array(patterns, { maxLength: 20 }), fc.array(patterns, { minLength: 1, maxLength: 10 }), (added, removed, queries) => {
        const trie = new PatternTrie();
        const set = new Set<string>();
        for (const p of added) expect(trie.add(p)).toBe(!set.has(p) && !!set.add(p));
        for (const p of removed) expect(trie.delete(p)).toBe(set.delete(p));
        expect(trie.size).toBe(set.size);
        for (const q of queries) {
          const covering: string[] = [];
          const covered: string[] = [];
          expect(trie.someCovering(q, (p) => void covering.push(p))).toBe(false);
          expect(trie.someCovered(q, (p) => void covered.push(p))).toBe(false);
          expect(covering.sort(), `covering ${q}`).toEqual(sorted([...set].filter((p) => patternCovers(p, q))));
          expect(covered.sort(), `covered by ${q}`).toEqual(sorted([...set].filter((p) => patternCovers(q, p))));
          // Stopping early: true as soon as one is found.
          expect(trie.someCovering(q, () => true)).toBe(covering.length > 0);
          expect(trie.someCovered(q, () => true)).toBe(covered.length > 0);
        }
        // Deleting everything leaves an empty trie that finds nothing.
        for (const p of set) expect(trie.delete(p)).toBe(true);
        expect(trie.size).toBe(0);
        for (const q of queries) expect(trie.someCovered(q, () => true) || trie.someCovering(q, () => true)).toBe(false);
      }),
      { numRuns: 400 },
    );
  });
});
