// PatternIndex: unit tests of add/remove/match semantics and the result cache, and a property
// test that drives random add/remove/match sequences against a naive model built on matches().
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidPatternError } from './errors.js';
import { hashToken, PatternIndex } from './pattern-index.js';
import { matches } from './subject.js';

const sorted = <T>(xs: T[]) => [...xs].sort();

function indexOf(entries: Array<[string, string]>, options?: { cacheSize?: number }): PatternIndex<string> {
  const index = new PatternIndex<string>(options);
  for (const [p, v] of entries) index.add(p, v);
  return index;
}

describe('PatternIndex matching', () => {
  it('a literal pattern matches only the identical subject', () => {
    const index = indexOf([['orders.o-1.status', 'A']]);
    expect(index.match('orders.o-1.status')).toEqual(['A']);
    expect(index.match('orders.o-1')).toEqual([]);
    expect(index.match('orders.o-1.status.extra')).toEqual([]);
    expect(index.match('orders.o-2.status')).toEqual([]);
  });

  it('`*` matches exactly one token, never zero or two', () => {
    const index = indexOf([['orders.*.status', 'A']]);
    expect(index.match('orders.o-1.status')).toEqual(['A']);
    expect(index.match('orders.status')).toEqual([]);
    expect(index.match('orders.o-1.x.status')).toEqual([]);
    expect(index.match('orders.o-1.status.x')).toEqual([]);
  });

  it('`>` matches one or more trailing tokens, not zero', () => {
    const index = indexOf([['orders.>', 'A']]);
    expect(index.match('orders.o-1')).toEqual(['A']);
    expect(index.match('orders.o-1.status.items.i-3')).toEqual(['A']);
    expect(index.match('orders')).toEqual([]);
    expect(index.match('invoices.o-1')).toEqual([]);
  });

  it('`>` alone matches every subject', () => {
    const index = indexOf([['>', 'A']]);
    for (const s of ['a', 'a.b', 'tenant-1.orders.o-1.items.i-2.status']) expect(index.match(s)).toEqual(['A']);
  });

  it('`*` and `>` combine', () => {
    const index = indexOf([['*.orders.>', 'A'], ['*.*', 'B']]);
    expect(index.match('t1.orders.o-1')).toEqual(['A']);
    expect(index.match('t1.orders')).toEqual(['B']);
    expect(index.match('t1.invoices.o-1')).toEqual([]);
  });

  it('returns every value registered under one pattern', () => {
    const index = new PatternIndex<number>();
    for (let v = 0; v < 50; v++) index.add('orders.*', v);
    expect(sorted(index.match('orders.o-1'))).toEqual(sorted(Array.from({ length: 50 }, (_, v) => v)));
  });

  it('returns a value once when several of its patterns match the subject', () => {
    const index = indexOf([
      ['orders.o-1', 'A'],
      ['orders.*', 'A'],
      ['orders.>', 'A'],
      ['>', 'A'],
      ['orders.*', 'B'],
    ]);
    expect(sorted(index.match('orders.o-1'))).toEqual(['A', 'B']);
  });

  it('dedupes large results too (past the linear-scan limit)', () => {
    const index = new PatternIndex<number>();
    for (let v = 0; v < 40; v++) {
      index.add('a.*', v);
      index.add('a.>', v);
      index.add('>', v);
    }
    const result = index.match('a.b');
    expect(result).toHaveLength(40);
    expect(new Set(result).size).toBe(40);
  });

  it('dedupes by identity: equal-looking objects are distinct values, NaN is one value', () => {
    const index = new PatternIndex<object | number>();
    const x = { id: 1 };
    index.add('a.*', x);
    index.add('a.b', x);
    index.add('a.b', { id: 1 });
    index.add('a.*', Number.NaN);
    index.add('a.b', Number.NaN);
    expect(index.match('a.b')).toHaveLength(3);
  });

  it('answers like matches() for odd strings and never throws', () => {
    const patterns = ['*', '>', '*.*', 'a.>', 'a.*', 'a.*.b', '*.b'];
    const index = new PatternIndex<string>();
    for (const p of patterns) index.add(p, p);
    for (const s of ['', '.', '..', 'a.', '.a', 'a..b', 'a.*', '*', '>', 'a.>', 'a b', 'x'.repeat(10_000), 'ü.b', 'a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r']) {
      expect(sorted(index.match(s)), JSON.stringify(s)).toEqual(sorted(patterns.filter((p) => matches(p, s))));
    }
  });

  it('matches nothing for a non-string subject', () => {
    const index = indexOf([['>', 'A']]);
    expect(index.match(undefined as unknown as string)).toEqual([]);
    expect(index.match(42 as unknown as string)).toEqual([]);
  });

  it('keeps tokens whose hashes collide apart', () => {
    // Two tokens with the same 30-bit FNV-1a hash, found by search; they chain under one parent.
    const [x, y] = ['t7pfs', 'tovja'];
    expect(hashToken(x, 0, x.length)).toBe(hashToken(y, 0, y.length));
    for (const order of [[x, y], [y, x]]) {
      const index = new PatternIndex<string>();
      for (const t of order) index.add(`a.${t}.>`, t);
      index.add(`a.${x}`, 'exact');
      expect(index.match(`a.${x}.z`)).toEqual([x]);
      expect(index.match(`a.${y}.z`)).toEqual([y]);
      expect(index.match(`a.${x}`)).toEqual(['exact']);
      // Remove the chain's head first in one order, its tail first in the other.
      expect(index.remove(`a.${order[0]!}.>`, order[0]!)).toBe(true);
      expect(index.match(`a.${order[1]!}.z`)).toEqual([order[1]]);
      expect(index.match(`a.${order[0]!}.z`)).toEqual([]);
      expect(index.remove(`a.${order[1]!}.>`, order[1]!)).toBe(true);
      expect(index.match(`a.${y}.z`)).toEqual([]);
      expect(index.match(`a.${x}`)).toEqual(['exact']);
    }
  });
});

describe('PatternIndex registrations', () => {
  it('adding the same (pattern, value) twice is a no-op', () => {
    const index = new PatternIndex<string>();
    expect(index.add('orders.*', 'A')).toBe(true);
    expect(index.add('orders.*', 'A')).toBe(false);
    expect(index.size).toBe(1);
    expect(index.match('orders.o-1')).toEqual(['A']);
    expect(index.remove('orders.*', 'A')).toBe(true);
    expect(index.match('orders.o-1')).toEqual([]);
  });

  it('size counts (pattern, value) registrations', () => {
    const index = indexOf([
      ['a.b', 'A'],
      ['a.b', 'B'],
      ['a.*', 'A'],
      ['>', 'A'],
    ]);
    expect(index.size).toBe(4);
    index.remove('a.b', 'B');
    expect(index.size).toBe(3);
  });

  it('remove of an absent registration returns false and changes nothing', () => {
    const index = indexOf([['a.b.c', 'A'], ['a.*.>', 'A']]);
    expect(index.remove('a.b.c', 'B')).toBe(false);
    expect(index.remove('a.b', 'A')).toBe(false);
    expect(index.remove('a.b.c.d', 'A')).toBe(false);
    expect(index.remove('a.*', 'A')).toBe(false);
    expect(index.remove('a.*.c', 'A')).toBe(false);
    expect(index.remove('x.>', 'A')).toBe(false);
    expect(index.size).toBe(2);
    expect(sorted(index.match('a.b.c'))).toEqual(['A']);
  });

  it('removing the last value of a pattern leaves its siblings matching', () => {
    const index = indexOf([['a.b.c', 'A'], ['a.b.d', 'B'], ['a.*.c', 'C']]);
    index.remove('a.b.c', 'A');
    expect(index.match('a.b.c')).toEqual(['C']);
    expect(index.match('a.b.d')).toEqual(['B']);
    index.remove('a.*.c', 'C');
    expect(index.match('a.b.c')).toEqual([]);
    expect(index.has('a.b.d', 'B')).toBe(true);
  });

  it('adds and removes many values under one pattern', () => {
    const index = new PatternIndex<number>();
    for (let v = 0; v < 1000; v++) index.add('room.*', v);
    for (let v = 0; v < 1000; v += 2) expect(index.remove('room.*', v)).toBe(true);
    expect(index.remove('room.*', 0)).toBe(false);
    expect(index.has('room.*', 1)).toBe(true);
    expect(index.has('room.*', 2)).toBe(false);
    expect(sorted(index.match('room.r1'))).toEqual(sorted(Array.from({ length: 500 }, (_, i) => 2 * i + 1)));
    for (let v = 1; v < 1000; v += 2) index.remove('room.*', v);
    expect(index.size).toBe(0);
    expect(index.match('room.r1')).toEqual([]);
  });

  it('has() tells an exact registration, not a match', () => {
    const index = indexOf([['orders.*', 'A'], ['orders.>', 'B']]);
    expect(index.has('orders.*', 'A')).toBe(true);
    expect(index.has('orders.o-1', 'A')).toBe(false);
    expect(index.has('orders.*', 'B')).toBe(false);
    expect(index.has('orders.>', 'B')).toBe(true);
    expect(index.has('x.y.z', 'A')).toBe(false);
  });

  it('clear() removes everything', () => {
    const index = indexOf([['a.*', 'A'], ['a.b', 'B']]);
    index.match('a.b');
    index.clear();
    expect(index.size).toBe(0);
    expect(index.match('a.b')).toEqual([]);
    index.add('a.b', 'C');
    expect(index.match('a.b')).toEqual(['C']);
  });

  it('invalid patterns throw InvalidPatternError from add, remove and has', () => {
    const index = new PatternIndex<string>();
    for (const bad of ['', 'a..b', '.a', 'a.', 'a.>.b', '>.a', 'a*.b', 'a.b>', 'a b', 'x'.repeat(300), 42 as unknown as string]) {
      expect(() => index.add(bad, 'A'), JSON.stringify(bad)).toThrow(InvalidPatternError);
      expect(() => index.remove(bad, 'A'), JSON.stringify(bad)).toThrow(InvalidPatternError);
      expect(() => index.has(bad, 'A'), JSON.stringify(bad)).toThrow(InvalidPatternError);
    }
    expect(index.size).toBe(0);
  });
});

describe('PatternIndex result cache', () => {
  it('a returned array is the caller’s: mutating it does not change later results', () => {
    const index = indexOf([['a.*', 'A'], ['a.b', 'B']]);
    const first = index.match('a.b');
    first.push('junk');
    first.length = 0;
    expect(sorted(index.match('a.b'))).toEqual(['A', 'B']);
    const second = index.match('a.b');
    second[0] = 'junk';
    expect(sorted(index.match('a.b'))).toEqual(['A', 'B']);
  });

  it('reflects an add or remove made after a subject was cached', () => {
    const index = new PatternIndex<string>();
    expect(index.match('a.b')).toEqual([]);
    index.add('a.b', 'literal');
    expect(index.match('a.b')).toEqual(['literal']);
    index.add('a.*', 'star');
    expect(sorted(index.match('a.b'))).toEqual(['literal', 'star']);
    index.add('a.c', 'other literal');
    expect(sorted(index.match('a.b'))).toEqual(['literal', 'star']);
    index.remove('a.b', 'literal');
    expect(index.match('a.b')).toEqual(['star']);
    index.remove('a.*', 'star');
    expect(index.match('a.b')).toEqual([]);
    index.add('>', 'all');
    expect(index.match('a.b')).toEqual(['all']);
  });

  it('stays correct when full (flushes) and when it turns passive on never-repeating subjects', () => {
    const index = new PatternIndex<string>({ cacheSize: 8 });
    index.add('s.*', 'star');
    // Never-repeating traffic: the cache sees no hits and goes passive.
    for (let i = 0; i < 5000; i++) expect(index.match(`s.u${i}`)).toEqual(['star']);
    index.add('s.u1', 'late');
    expect(sorted(index.match('s.u1'))).toEqual(['late', 'star']);
    // Repeating traffic again: sampled lookups find hits and the cache turns back on.
    for (let i = 0; i < 5000; i++) expect(index.match(`s.u${i % 4}`)).toHaveLength(i % 4 === 1 ? 2 : 1);
    index.remove('s.*', 'star');
    for (let i = 0; i < 64; i++) expect(index.match(`s.u${i % 4}`)).toEqual(i % 4 === 1 ? ['late'] : []);
  });
});

// --- Property test -------------------------------------------------------------------------
// A tiny alphabet so that patterns overlap, values repeat across patterns, and removes often hit.

const token = fc.constantFrom('a', 'b', 'c');
const pattern = fc
  .tuple(fc.array(fc.oneof(token, fc.constant('*')), { minLength: 0, maxLength: 3 }), fc.boolean())
  .filter(([ts, rest]) => ts.length > 0 || rest)
  .map(([ts, rest]) => (rest ? [...ts, '>'] : ts).join('.'));
const subject = fc.oneof(
  { weight: 9, arbitrary: fc.array(token, { minLength: 1, maxLength: 4 }).map((ts) => ts.join('.')) },
  // Strings no edge would let through: match must still answer as matches() does.
  { weight: 1, arbitrary: fc.constantFrom('', '.', 'a.', '.a', 'a..b', '*', 'a.*', '>', 'a.>', 'a.b.c.d.e') },
);
const value = fc.integer({ min: 0, max: 3 });
const op = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('add' as const), pattern, value }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), pattern, value }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('has' as const), pattern, value }) },
  // Matches come in pairs of the same subject now and then, so cache hits happen too.
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('match' as const), subject, twice: fc.boolean() }) },
);

describe('PatternIndex property', () => {
  it('agrees with a naive model over matches() on random add/remove/has/match sequences', () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 2, 4096), fc.array(op, { maxLength: 40 }), (cacheSize, ops) => {
        const index = new PatternIndex<number>({ cacheSize });
        const model = new Map<string, Set<number>>();
        let size = 0;
        for (const o of ops) {
          if (o.kind === 'add') {
            const values = model.get(o.pattern) ?? model.set(o.pattern, new Set()).get(o.pattern)!;
            const fresh = !values.has(o.value);
            values.add(o.value);
            if (fresh) size++;
            expect(index.add(o.pattern, o.value)).toBe(fresh);
          } else if (o.kind === 'remove') {
            const present = model.get(o.pattern)?.delete(o.value) ?? false;
            if (present) size--;
            expect(index.remove(o.pattern, o.value)).toBe(present);
          } else if (o.kind === 'has') {
            expect(index.has(o.pattern, o.value)).toBe(model.get(o.pattern)?.has(o.value) ?? false);
          } else {
            const expected = new Set<number>();
            for (const [p, values] of model) if (matches(p, o.subject)) for (const v of values) expected.add(v);
            for (let k = o.twice ? 2 : 1; k > 0; k--) {
              const got = index.match(o.subject);
              expect(got.length).toBe(new Set(got).size); // no duplicates
              expect(new Set(got)).toEqual(expected);
            }
          }
          expect(index.size).toBe(size);
        }
      }),
      { numRuns: 10_000 },
    );
  });
});
