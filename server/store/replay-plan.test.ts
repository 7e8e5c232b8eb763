// Replay plans: which topics and which subject range a pattern read goes through, and a property
// test that a plan never leaves out a subject the pattern matches (the plan only narrows; the
// pattern still decides each row).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defineTopic, defineTopics, matches } from '../../shared/index.js';
import { planReplay, replayPlanner } from './replay-plan.js';

const catalog = defineTopics({
  status: defineTopic('orders.{orderId}.status', { kind: 'presentation' }),
  placed: defineTopic('orders.{orderId}.placed', { kind: 'domain' }),
  audit: defineTopic('audit.{kind}', { kind: 'integration' }),
  chat: defineTopic('rooms.{room}.messages.{author}', { kind: 'presentation' }),
});

/** PostgreSQL compares `COLLATE "C"` text by bytes. */
const byteLess = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b)) < 0;
const inRange = (s: string, r: { from: string; to: string }) => !byteLess(s, r.from) && byteLess(s, r.to);

describe('replay plans', () => {
  it('a pattern is planned to the topics whose templates it can match, with its literal leading tokens as a subject range', () => {
    expect(planReplay('orders.*.status', catalog)).toEqual({
      kind: 'filter',
      topics: ['orders.{orderId}.status'],
      subjectRange: { from: 'orders.', to: 'orders/' },
    });
    expect(planReplay('orders.o-17.>', catalog)).toEqual({
      kind: 'filter',
      topics: ['orders.{orderId}.placed', 'orders.{orderId}.status'],
      subjectRange: { from: 'orders.o-17.', to: 'orders.o-17/' },
    });
    expect(planReplay('*.o-17.status', catalog)).toEqual({ kind: 'filter', topics: ['orders.{orderId}.status'], subjectRange: undefined });
  });

  it('a pattern without wildcards is planned to its one subject', () => {
    const plan = planReplay('audit.login', catalog);
    expect(plan).toMatchObject({ kind: 'filter', topics: ['audit.{kind}'] });
    const range = (plan as { subjectRange: { from: string; to: string } }).subjectRange;
    expect(inRange('audit.login', range)).toBe(true);
    expect(inRange('audit.login2', range)).toBe(false);
    expect(inRange('audit.logi', range)).toBe(false);
  });

  it('a pattern that no topic can match is planned to read nothing', () => {
    expect(planReplay('nothing.*', catalog)).toEqual({ kind: 'none' });
    expect(planReplay('orders.*', catalog)).toEqual({ kind: 'none' }); // two tokens: no orders topic has two
    expect(planReplay('audit.*.deep', catalog)).toEqual({ kind: 'none' });
  });

  it('> reads everything, like the tail', () => {
    expect(planReplay('>', catalog)).toEqual({ kind: 'all' });
  });

  it('an invalid pattern is INVALID_PATTERN', () => {
    expect(() => planReplay('orders.>.x', catalog)).toThrow(expect.objectContaining({ code: 'INVALID_PATTERN' }));
    expect(() => planReplay('', catalog)).toThrow(expect.objectContaining({ code: 'INVALID_PATTERN' }));
  });

  it('a planner remembers plans per pattern', () => {
    const plan = replayPlanner(catalog);
    expect(plan('orders.*.status')).toBe(plan('orders.*.status'));
  });

  it('every subject a pattern matches is in the plan: its topic is listed and it lies in the subject range', () => {
    const token = fc.constantFrom('o-1', 'o-17', 'o-17x', 'a', 'Z', 'é', 'login', 'x_y');
    const subjectOf = fc.oneof(
      token.map((id) => ({ topic: 'orders.{orderId}.status', subject: `orders.${id}.status` })),
      token.map((id) => ({ topic: 'orders.{orderId}.placed', subject: `orders.${id}.placed` })),
      token.map((k) => ({ topic: 'audit.{kind}', subject: `audit.${k}` })),
      fc.tuple(token, token).map(([r, a]) => ({ topic: 'rooms.{room}.messages.{author}', subject: `rooms.${r}.messages.${a}` })),
    );
    const patternTok = fc.oneof(token, fc.constantFrom('orders', 'audit', 'rooms', 'messages', 'status', 'placed', '*'));
    const pattern = fc
      .tuple(fc.array(patternTok, { minLength: 1, maxLength: 4 }), fc.boolean())
      .map(([toks, tail]) => (tail ? [...toks, '>'] : toks).join('.'));
    fc.assert(
      fc.property(pattern, subjectOf, (p, e) => {
        if (!matches(p, e.subject)) return;
        const plan = planReplay(p, catalog);
        expect(plan.kind).not.toBe('none');
        if (plan.kind !== 'filter') return;
        expect(plan.topics).toContain(e.topic);
        if (plan.subjectRange) expect(inRange(e.subject, plan.subjectRange)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
