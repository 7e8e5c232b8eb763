// Property (issue 9): a random resume — a cursor from the past, the future, another log (epoch),
// or a range retention pruned — never yields a hole without a gap notice, on Socket.IO, SSE and
// fete.follow (one server for the whole property, a new reader per run), and on follow() over the
// in-memory log's bound. What each run checks, against the events appended (pruned ones included):
// seqs arrive once, increasing, after the effective start; every event still in the log that
// matches arrives; every matching event that does not is inside a `pruned` gap, and the gap comes
// after the events before its watermark and before those after it; a cursor of another log or
// beyond the head is answered with a `reset`/`ahead` gap first.
import { PGlite } from '@electric-sql/pglite';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryLog } from '../../server/log/memory-log.js';
import { follow } from '../../server/log/follow.js';
import { createEnvelope, matches } from '../../shared/index.js';
import { freshSchema } from '../support/postgres.js';
import { PATHS, resume, type Item, type Served, serveThreeWays } from './three-paths.js';
import { topics } from './topics.js';

const PATTERNS = ['>', '*.*', 'ticks.*', 'pulses.*'];
const MAX = Number.MAX_SAFE_INTEGER;

interface LogModel {
  epoch: string;
  head: number;
  /** Every event appended, pruned or not. */
  all: Array<{ seq: number; subject: string }>;
  kept: Set<number>;
}

type Resume = { kind: 'past' | 'future' | 'other-epoch'; seq: number; epoch: string | undefined };

/** Cursors of every kind, for a log whose head is `head` and whose epoch is `epoch`. */
function resumes(epoch: string, head: number): fc.Arbitrary<Resume> {
  const mine = fc.constantFrom<string | undefined>(epoch, undefined);
  return fc.oneof(
    fc.record({ kind: fc.constant('past' as const), seq: fc.integer({ min: 0, max: head - 1 }), epoch: mine }),
    fc.record({ kind: fc.constant('future' as const), seq: fc.oneof(fc.integer({ min: head + 1, max: head + 50 }), fc.integer({ min: head + 1, max: MAX })), epoch: mine }),
    fc.record({
      kind: fc.constant('other-epoch' as const),
      seq: fc.integer({ min: 0, max: MAX }),
      epoch: fc.stringMatching(/^[a-f0-9]{16}$/).filter((e) => e !== epoch),
    }),
  );
}

const cursorOf = (r: Resume) => (r.epoch === undefined ? r.seq : `${r.epoch}:${r.seq}`);

/** Checks what one resume yielded; returns nothing, throws on a violation. */
function check(model: LogModel, pattern: string, r: Resume, items: Item[]): void {
  const matching = model.all.filter((e) => matches(pattern, e.subject)).map((e) => e.seq);
  const foreign = r.kind !== 'past';
  if (foreign) expect(items[0]).toMatchObject({ kind: 'gap', reason: r.kind === 'future' ? 'ahead' : 'reset', after: r.seq, resumedAt: 0 });
  else expect(items.some((i) => i.kind === 'gap' && i.reason !== 'pruned')).toBe(false);
  const start = foreign ? 0 : r.seq;
  const delivered: number[] = [];
  const covered: Array<[number, number]> = [];
  for (const item of items.slice(foreign ? 1 : 0)) {
    if (item.kind === 'ev') {
      expect(item.seq).toBeGreaterThan(Math.max(start, delivered.at(-1) ?? 0, ...covered.map((c) => c[1])));
      delivered.push(item.seq);
    } else {
      expect(item.reason).toBe('pruned');
      // Everything still in the log before the watermark came first.
      const before = matching.filter((s) => s > start && s <= item.resumedAt && model.kept.has(s));
      expect(delivered.filter((s) => s <= item.resumedAt)).toEqual(before);
      covered.push([item.after, item.resumedAt]);
    }
  }
  // No hole: every matching event after the start arrived, or lies in a gap that was announced.
  for (const s of matching.filter((x) => x > start)) {
    if (delivered.includes(s)) continue;
    expect(model.kept.has(s), `seq ${s} is in the log but was not delivered`).toBe(false);
    expect(covered.some(([a, b]) => s > a && s <= b), `seq ${s} is missing without a gap`).toBe(true);
  }
  for (const s of delivered) expect(model.kept.has(s) && matching.includes(s)).toBe(true);
}

describe('random resumes over the three paths (PGlite, retention)', () => {
  let db: PGlite;
  let s: Served;
  const model: LogModel = { epoch: '', head: 0, all: [], kept: new Set() };
  beforeAll(async () => {
    db = await PGlite.create();
    s = await serveThreeWays({ store: { pglite: db }, schema: freshSchema('rp'), retention: { intervalMs: 0, graceMs: 0 } });
    // ticks 1-5, pulses 6-15 (newest 3 kept: 6-12 pruned), ticks 16-20: the head is a tick, which
    // every pattern but pulses.* matches.
    const add = async (topic: typeof topics.tick | typeof topics.pulse, n: number) => {
      const r = await s.fete.emit(topic, { n });
      model.all.push({ seq: r.seq, subject: `${topic === topics.tick ? 'ticks' : 'pulses'}.${n}` });
    };
    for (let n = 1; n <= 5; n++) await add(topics.tick, n);
    for (let n = 6; n <= 15; n++) await add(topics.pulse, n);
    for (let n = 16; n <= 20; n++) await add(topics.tick, n);
    await s.fete.prune();
    const { events } = await s.fete.log.read(0, { limit: 1000 });
    for (const e of events) model.kept.add(e.seq!);
    model.epoch = s.fete.log.epoch;
    model.head = 20;
    expect([...model.kept]).toEqual([1, 2, 3, 4, 5, 13, 14, 15, 16, 17, 18, 19, 20]);
  });
  afterAll(async () => {
    await s?.close();
    await db?.close();
  });

  it.each(PATHS)('over %s a resume never yields a hole without a gap notice', async (path) => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...PATTERNS), fc.constant(null).chain(() => resumes(model.epoch, model.head)), async (pattern, r) => {
        const reader = await resume(s, path, pattern, cursorOf(r));
        // Done once the last matching event still in the log is in (the resume always starts before it).
        const last = pattern === 'pulses.*' ? 15 : 20;
        const start = r.kind === 'past' ? r.seq : 0;
        const items = start >= last ? (reader.close(), []) : await reader.until((i) => i.some((x) => x.kind === 'ev' && x.seq === last), `seq ${last}`);
        if (start < last) check(model, pattern, r, items);
      }),
      { numRuns: 120 },
    );
  }, 120_000);
});

describe('random resumes of follow() over the in-memory log (20 events kept)', () => {
  it('never yields a hole without a gap notice', async () => {
    const log = new MemoryLog(20);
    const model: LogModel = { epoch: log.epoch, head: 60, all: [], kept: new Set() };
    for (let n = 1; n <= 60; n++) {
      const topic = n % 3 === 0 ? topics.pulse : topics.tick;
      const [r] = await log.append([createEnvelope(topic, { n })]);
      model.all.push({ seq: r!.seq, subject: `${topic === topics.tick ? 'ticks' : 'pulses'}.${n}` });
      if (n > 40) model.kept.add(r!.seq);
    }
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...PATTERNS), resumes(log.epoch, 60), async (pattern, r) => {
        const from = { epoch: r.epoch, seq: r.seq };
        const abort = new AbortController();
        const items: Item[] = [];
        for await (const item of follow(log, { from, pattern, signal: abort.signal, pageSize: 7 })) {
          if (item.type === 'gap') items.push({ kind: 'gap', reason: item.reason, after: item.after, resumedAt: item.resumedAt, epoch: log.epoch });
          else items.push(...item.events.map((e) => ({ kind: 'ev' as const, seq: e.seq! })));
          if (item.type === 'events' && item.seq >= 60) abort.abort();
        }
        check(model, pattern, r, items);
      }),
      { numRuns: 1000 },
    );
  });
});
