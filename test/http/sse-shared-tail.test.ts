// SSE streams ride the node's one live tail (server/fanout/node-tail.ts), shared with the Socket.IO
// subscriptions, on every engine (the memory log of `dispatch: 'inline'`, PGlite, PostgreSQL): a
// resume replays its backlog and hands over to the tail with every event once, in order, while
// appends run; one fete with both doors routes each event once for both; a slow reader does not
// hold the others back and catches up from the log without losing an event. The PostgreSQL case
// is skipped (with the reason printed) without FETE_TEST_DATABASE_URL outside CI.
import { createServer, type Server } from 'node:http';
import express from 'express';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fete, createFete } from '../../server/index.js';
import { dropSchemas, freshSchema, postgresAvailability } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';
import { RawClient } from '../realtime/support.js';
import { type Topics, openStream, seqOf, startServer, testAuth, topics } from './http-harness.js';
import { closeHttp, listen } from '../support/http-server.js';

const availability = await postgresAvailability();
if (availability.skipReason) process.stdout.write(`[sse shared tail] PostgreSQL case skipped: ${availability.skipReason}\n`);

let pool: pg.Pool | undefined;
const schemas: string[] = [];
beforeAll(() => {
  if (availability.url) pool = new pg.Pool({ connectionString: availability.url, max: 6 });
});
afterAll(async () => {
  if (pool) {
    await dropSchemas(pool, schemas);
    await pool.end();
  }
});

type Engine = 'memory (inline)' | 'PGlite' | 'PostgreSQL';
const engines: Engine[] = ['memory (inline)', 'PGlite', ...(availability.url ? (['PostgreSQL'] as const) : [])];

/** A fete on `engine` (PGlite: in memory; PostgreSQL: a fresh schema). */
async function feteOn(engine: Engine): Promise<Fete<Topics>> {
  if (engine === 'memory (inline)') return (await createFete({ topics, security: testAuth, dispatch: 'inline' })) as unknown as Fete<Topics>;
  if (engine === 'PGlite') return createFete({ topics, security: testAuth, store: 'memory' });
  const schema = freshSchema('ssetail');
  schemas.push(schema);
  return createFete({ topics, security: testAuth, store: pool!, schema });
}

const order = (n: number) => ({ orderId: `o${n}`, total: n });

describe.each(engines)('SSE streams on the node tail (%s)', (engine) => {
  it('a resume from Last-Event-ID across the handover gets every event once, in order, while appends run', async () => {
    const { url, fete } = await startServer({ stream: { pageSize: 7, pollIntervalMs: 50 } }, await feteOn(engine));
    const backlog = await fete.emitMany(Array.from({ length: 120 }, (_, i) => ({ topic: topics.orderCreated, payload: order(i) })));
    const resumeAfter = backlog[19]!.seq;
    // Appends keep coming while the stream replays its backlog page by page and hands over.
    const appended: number[] = [];
    const appending = (async () => {
      for (let i = 0; i < 150; i++) {
        appended.push((await fete.emit(topics.orderCreated, order(1000 + i))).seq);
        if (i % 10 === 0) await new Promise((r) => setImmediate(r));
      }
    })();
    const sse = await openStream(`${url}/stream?pattern=orders.>`, { 'last-event-id': `${fete.log.epoch}:${resumeAfter}` });
    expect(sse.status).toBe(200);
    await appending;
    const expected = [...backlog.map((r) => r.seq), ...appended].filter((s) => s > resumeAfter);
    const got = (await sse.take(expected.length)).map((m) => seqOf(m));
    expect(got).toEqual(expected);
    // Live after the handover: the next event, once.
    const live = await fete.emit(topics.orderCreated, order(9999));
    expect(seqOf(await sse.next())).toBe(live.seq);
  });

  it('one fete with attach and express routes each event once for both doors, and SSE goes on when the fanout closes', async () => {
    const fete = await feteOn(engine);
    const app = express();
    const http: Server = createServer(app);
    const fanout = fete.attach(http);
    const router = fete.express();
    app.use('/fete', router);
    const base = await listen(http);
    const socket = new RawClient(base, { 'x-user': 'ann' });
    try {
      await socket.connected();
      expect(await socket.sub('s', 'orders.>')).toMatchObject({ ok: true });
      const sse = await openStream(`${base}/fete/stream?pattern=orders.>`);
      await sse.nextRaw();
      const before = fete.fanoutStats().eventsRouted;
      const seqs = (await fete.emitMany(Array.from({ length: 20 }, (_, i) => ({ topic: topics.orderCreated, payload: order(i) })))).map((r) => r.seq);
      expect((await sse.take(20)).map((m) => seqOf(m))).toEqual(seqs);
      await waitFor(() => socket.seqs('s').length >= 20, { what: 'the socket got the 20 events' });
      expect(socket.seqs('s')).toEqual(seqs);
      // One tail for both doors: each event was routed once, not once per door.
      await waitFor(() => fete.fanoutStats().tailCursor >= seqs.at(-1)!, { what: 'the tail past them' });
      expect(fete.fanoutStats().eventsRouted - before).toBe(20);
      await fanout.close();
      const after = await fete.emit(topics.orderCreated, order(99));
      expect(seqOf(await sse.next())).toBe(after.seq);
      sse.close();
    } finally {
      socket.close();
      router.close();
      await closeHttp(http);
      await fete.stop({ drain: false });
    }
  });
});

describe('a slow SSE reader', () => {
  it('does not hold the other streams back, and catches up from the log without losing an event', async () => {
    const { url, fete } = await startServer({ metrics: 'public', stream: { maxBufferedBytes: 256 * 1024, pollIntervalMs: 50 } });
    const slow = await openStream(`${url}/stream?pattern=audit.>`);
    const fast = await openStream(`${url}/stream?pattern=audit.>`);
    await Promise.all([slow.nextRaw(), fast.nextRaw()]);
    // ~26 MB while the slow client reads nothing: far beyond socket buffers and maxBufferedBytes.
    const msg = 'x'.repeat(64 * 1024);
    const seqs: number[] = [];
    const fastGot: number[] = [];
    const reading = (async () => {
      while (fastGot.length < 400) fastGot.push(seqOf(await fast.next()));
    })();
    for (let b = 0; b < 8; b++) {
      const batch = Array.from({ length: 50 }, (_, i) => ({ topic: topics.audit, payload: { kind: 'bulk', msg: `${b * 50 + i}:${msg}` } }));
      seqs.push(...(await fete.emitMany(batch)).map((r) => r.seq));
    }
    await reading;
    expect(fastGot).toEqual(seqs);
    const metrics = async () => (await fetch(`${url}/metrics`)).text();
    // The slow stream stopped taking events from memory and waits for its client, reading the log.
    await waitFor(async () => /\nfete_http_stream_overflows_total [1-9]/.test(await metrics()), { what: 'the slow stream overflowed' });
    await waitFor(async () => (await metrics()).includes('\nfete_http_streams_waiting 1\n'), { what: 'the slow stream waits for its client' });
    expect((await slow.take(400)).map((m) => seqOf(m))).toEqual(seqs);
    const live = await fete.emit(topics.audit, { kind: 'after', msg: 'live again' });
    expect(seqOf(await slow.next())).toBe(live.seq);
    await waitFor(async () => (await metrics()).includes('\nfete_http_streams_waiting 0\n'), { what: 'drained' });
  });
});
