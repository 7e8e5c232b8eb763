import { describe, expect, it } from 'vitest';
import { matches } from '../../shared/index.js';
import { Interest } from './nats-interest.js';
import { busRoot, busSubjects, interest, patternCovers, tenantToken } from './nats-subjects.js';

describe('bus subjects', () => {
  it('turns every tenant into one NATS token, distinct for distinct tenants', () => {
    const tenants = ['', 'a', 'acme.eu', 'x y', '*', '>', 'é', '_', 'a/b'];
    const tokens = tenants.map(tenantToken);
    for (const t of tokens) expect(t).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(new Set(tokens).size).toBe(tenants.length);
  });

  it('puts each log under its own root and refuses a prefix NATS would split or match', () => {
    const s = busSubjects(busRoot('fete', 'ab12'));
    expect(s.event('', 'orders.1.status')).toBe('fete.ab12.ev._.orders.1.status');
    expect(s.eventPattern(interest('', 'orders.>'))).toBe('fete.ab12.ev._.orders.>');
    expect(s.eventPattern(interest('t1', '>'))).toBe(`fete.ab12.ev.${tenantToken('t1')}.>`);
    // One tenant's interest never covers another's.
    expect(patternCovers(interest('t1', '>'), interest('t2', 'a.b'))).toBe(false);
    expect(patternCovers(interest('t1', 'a.>'), interest('t1', 'a.b'))).toBe(true);
    expect(s.commits).toBe('fete.ab12.commits');
    for (const bad of ['', 'a..b', 'a.*', 'a b', '>']) expect(() => busRoot(bad, 'e')).toThrow(/bus.prefix/);
  });

  it('a pattern covers another exactly when it matches every subject the other matches', () => {
    const patterns = ['>', 'a.>', 'a.*', 'a.b', 'a.*.c', 'a.b.>', '*.b', '*.*', 'a.b.c', '*.>', 'b.>'];
    const subjects = ['a', 'a.b', 'a.c', 'b.b', 'a.b.c', 'a.x.c', 'a.b.d', 'a.b.c.d', 'b.x'];
    for (const p of patterns)
      for (const q of patterns) {
        // Checked on sample subjects: covers implies every sample q matches, p matches.
        if (patternCovers(p, q)) for (const s of subjects) if (matches(q, s)) expect(matches(p, s), `${p} covers ${q} at ${s}`).toBe(true);
      }
    expect(patternCovers('a.>', 'a.*.c')).toBe(true);
    expect(patternCovers('a.*', 'a.>')).toBe(false);
    expect(patternCovers('*.>', 'a.>')).toBe(true);
    expect(patternCovers('a.>', 'a')).toBe(false);
  });
});

describe('a node’s NATS interest', () => {
  function interest() {
    const live = new Set<string>();
    const log: string[] = [];
    const i = new Interest(
      {
        subscribe: (p) => (live.add(p), log.push(`+${p}`)),
        unsubscribe: (p) => (live.delete(p), log.push(`-${p}`)),
      },
      patternCovers,
    );
    return { i, live, log };
  }

  it('subscribes each pattern once, none covered by another', () => {
    const { i, live } = interest();
    i.add('orders.*.status');
    i.add('orders.*.status');
    i.add('ticks.1');
    expect([...live].sort()).toEqual(['orders.*.status', 'ticks.1']);
    i.add('orders.>');
    expect([...live].sort()).toEqual(['orders.>', 'ticks.1']);
    i.add('orders.1.status');
    expect([...live].sort()).toEqual(['orders.>', 'ticks.1']);
  });

  it('when a covering pattern goes, subscribes what it covered before ending its own subscription', () => {
    const { i, live, log } = interest();
    i.add('orders.*.status');
    i.add('orders.>');
    log.length = 0;
    i.remove('orders.>');
    expect(log).toEqual(['+orders.*.status', '-orders.>']);
    expect([...live]).toEqual(['orders.*.status']);
    i.remove('orders.*.status');
    expect([...live]).toEqual([]);
  });

  it('keeps a pattern while any of its subscriptions remains', () => {
    const { i, live } = interest();
    i.add('a.b');
    i.add('a.b');
    i.remove('a.b');
    expect([...live]).toEqual(['a.b']);
    i.remove('a.b');
    expect([...live]).toEqual([]);
  });
});
