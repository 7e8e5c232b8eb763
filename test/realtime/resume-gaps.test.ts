// Regression tests for issue 9, "Resume can leave a silent hole": a resume the log cannot cover
// (a cursor of another log, beyond the head, or behind what retention or the in-memory bound
// removed) gets a typed gap, then what the log still has, on every path out of the log (Socket.IO,
// SSE, fete.follow), on PGlite, PostgreSQL and the in-memory log of `dispatch: 'inline'`; and the
// browser client tells the app why.
import 'fake-indexeddb/auto';
import { rmSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Client, Gap } from '../../client/index.js';
import { uuidv7 } from '../../shared/index.js';
import { dropSchemasAt, freshSchema, postgresAvailability } from '../support/postgres.js';
import { nodeClient, until } from './support.js';
import { PATHS, gaps, resume, seqs, serveThreeWays, type Served } from './three-paths.js';
import { topics, type Topics } from './topics.js';

const availability = await postgresAvailability();
if (availability.skipReason) console.log(`skipping the PostgreSQL resume gap tests: ${availability.skipReason}`);

let db: PGlite | undefined;
beforeAll(async () => {
  db = await PGlite.create();
});
const served: Served[] = [];
const clients: Client<Topics>[] = [];
const pgSchemas: string[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(served.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await db?.close();
  if (pgSchemas.length === 0) return;
  await dropSchemasAt(availability.url!, pgSchemas);
});

const engines = [
  { name: 'PGlite', durable: true, skip: false },
  { name: 'PostgreSQL', durable: true, skip: availability.url === undefined },
  { name: 'inline (memory log)', durable: false, skip: false },
];

async function serve(engine: (typeof engines)[number], retention = true): Promise<Served> {
  const schema = freshSchema('rg');
  const store = engine.name === 'PostgreSQL' ? { store: availability.url! } : { store: { pglite: db! } };
  if (engine.name === 'PostgreSQL') pgSchemas.push(schema);
  const s = await serveThreeWays(
    engine.durable ? { ...store, schema, ...(retention ? { retention: { intervalMs: 0, graceMs: 0 } } : {}) } : { schema, dispatch: 'inline' },
  );
  served.push(s);
  return s;
}

async function ticks(s: Served, from: number, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await s.fete.emit(topics.tick, { n: from + i })).seq);
  return out;
}

describe.each(engines)('resume gaps on $name', (engine) => {
  describe.each(PATHS)('over %s', (path) => {
    it.skipIf(engine.skip)("a resume from a seq beyond an empty log gets an 'ahead' gap, then every event appended after it from seq 1", async () => {
      const s = await serve(engine);
      const r = await resume(s, path, 'ticks.*', 5);
      const appended = await ticks(s, 0, 7);
      const items = await r.until((i) => seqs(i).length === 7, 'seven events');
      expect(appended).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(items[0]).toEqual({ kind: 'gap', reason: 'ahead', after: 5, resumedAt: 0, epoch: s.fete.log.epoch });
      expect(seqs(items)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(gaps(items)).toHaveLength(1);
    });

    it.skipIf(engine.skip)("a resume with a cursor of another log gets a 'reset' gap, then the whole log it resumed on", async () => {
      const s = await serve(engine);
      await ticks(s, 0, 3);
      const r = await resume(s, path, 'ticks.*', 'aaaa0000bbbb1111:2');
      const items = await r.until((i) => seqs(i).length === 3, 'the log from its start');
      expect(items).toEqual([
        { kind: 'gap', reason: 'reset', after: 2, resumedAt: 0, epoch: s.fete.log.epoch },
        { kind: 'ev', seq: 1 },
        { kind: 'ev', seq: 2 },
        { kind: 'ev', seq: 3 },
      ]);
    });

    it.skipIf(engine.skip)("a resume at Number.MAX_SAFE_INTEGER gets an 'ahead' gap and the log instead of waiting forever", async () => {
      const s = await serve(engine);
      await ticks(s, 0, 2);
      const r = await resume(s, path, '>', `${s.fete.log.epoch}:${Number.MAX_SAFE_INTEGER}`);
      const items = await r.until((i) => seqs(i).length === 2, 'the log');
      expect(items[0]).toMatchObject({ kind: 'gap', reason: 'ahead', after: Number.MAX_SAFE_INTEGER, resumedAt: 0 });
      expect(seqs(items)).toEqual([1, 2]);
    });

    it.skipIf(engine.skip)('a resume from a cursor of this log with nothing missing gets no gap, and exactly the events after it', async () => {
      const s = await serve(engine);
      await ticks(s, 0, 4);
      const r = await resume(s, path, 'ticks.*', `${s.fete.log.epoch}:2`);
      await ticks(s, 4, 1);
      const items = await r.until((i) => seqs(i).length === 3, 'the rest');
      expect(items).toEqual([3, 4, 5].map((seq) => ({ kind: 'ev', seq })));
    });

    if (engine.durable)
      it.skipIf(engine.skip)("a resume older than what retention pruned gets a 'pruned' gap before the events still kept", async () => {
        const s = await serve(engine);
        // pulses.* keeps its newest 3: 1-7 go, 8-10 stay (the SSE report of issue 9).
        for (let n = 1; n <= 10; n++) await s.fete.emit(topics.pulse, { n });
        expect(await s.fete.prune()).toEqual([{ topic: 'pulses.{n}', deleted: 7, prunedThrough: 7 }]);
        const r = await resume(s, path, 'pulses.*', `${s.fete.log.epoch}:2`);
        const items = await r.until((i) => seqs(i).length === 3, 'the kept events');
        expect(items).toEqual([
          { kind: 'gap', reason: 'pruned', after: 2, resumedAt: 7, epoch: s.fete.log.epoch },
          { kind: 'ev', seq: 8 },
          { kind: 'ev', seq: 9 },
          { kind: 'ev', seq: 10 },
        ]);
      });
    else
      it("a resume older than the in-memory log's 10,000 kept events gets a 'pruned' gap before the events still kept", async () => {
        const s = await serve(engine);
        for (let i = 0; i < 10_005; i += 1000)
          await s.fete.emitMany(Array.from({ length: Math.min(1000, 10_005 - i) }, (_, k) => ({ topic: topics.tick, payload: { n: i + k } })));
        const r = await resume(s, path, 'ticks.*', `${s.fete.log.epoch}:2`);
        const items = await r.until((i) => seqs(i).length === 10_000, 'the kept events');
        expect(items[0]).toEqual({ kind: 'gap', reason: 'pruned', after: 2, resumedAt: 5, epoch: s.fete.log.epoch });
        expect(seqs(items)[0]).toBe(6);
        expect(seqs(items).at(-1)).toBe(10_005);
        expect(gaps(items)).toHaveLength(1);
      });
  });
});

describe('the browser client', () => {
  const stores = [
    { name: 'PGlite directory', skip: false },
    { name: 'PostgreSQL schema', skip: availability.url === undefined },
  ];
  it.each(stores)(
    "reports a 'reset' gap with onGap and client.on('gap') when the store is recreated under an open subscription ($name), then gets the new log",
    async ({ name, skip }) => {
      if (skip) return;
      const dir = `/tmp/fete-reset-${uuidv7()}`;
      const schema = freshSchema('rgc');
      if (name !== 'PGlite directory') pgSchemas.push(schema);
      const options = name === 'PGlite directory' ? { store: { pglite: dir }, schema } : { store: availability.url!, schema };
      const a = await serveThreeWays(options);
      served.push(a);
      const port = Number(new URL(a.url).port);
      const client = nodeClient(a.url);
      clients.push(client);
      const got: number[] = [];
      const reported: Gap[] = [];
      const told: Gap[] = [];
      client.on('gap', (g) => void told.push(g));
      const sub = client.subscribe('ticks.*', (e) => void got.push(e.seq!), { onGap: (g) => void reported.push(g) });
      await sub.ready;
      for (let n = 0; n < 5; n++) await a.fete.emit(topics.tick, { n });
      await until(() => got.length === 5, 'the first log');
      const oldEpoch = a.fete.log.epoch;
      expect(sub.cursor).toBe(`${oldEpoch}:5`);
      served.splice(served.indexOf(a), 1);
      await a.close();
      // The store is recreated: a new log whose seqs start over.
      if (name === 'PGlite directory') rmSync(dir, { recursive: true, force: true });
      else await dropSchemasAt(availability.url!, [schema]);
      const b = await serveThreeWays(options, port);
      served.push(b);
      expect(b.fete.log.epoch).not.toBe(oldEpoch);
      for (let n = 0; n < 7; n++) await b.fete.emit(topics.tick, { n });
      await until(() => got.length === 12, 'the new log', 60_000);
      expect(got).toEqual([1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 6, 7]);
      expect(reported).toEqual([{ pattern: 'ticks.*', reason: 'reset', after: 5, resumedAt: 0 }]);
      expect(told).toEqual(reported);
      expect(sub.cursor).toBe(`${b.fete.log.epoch}:7`);
      if (name === 'PGlite directory') rmSync(dir, { recursive: true, force: true });
    },
    90_000,
  );
});
