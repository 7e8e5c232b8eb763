// fete's PGlite runs in a worker thread, so the store's work never holds the server's event loop.
// Before (PGlite on the main thread, queries as synchronous WASM): a backlog drain kept timers and
// sockets waiting until it ended; 2,000 sequential emits kept a 10 ms timer from firing for 10 s;
// 16 SSE streams replaying from 0 froze HTTP for 22 s. The checks are about order, not time: a
// callback queued when the work starts runs before it is done, and an HTTP request sent while a
// storm runs is answered while the storm is still running. The lag itself is measured by
// `npm run bench -- embedded`.
import { createServer, type Server } from 'node:http';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { createFete, type Fete } from '../../server/index.js';
import { defineTopic, defineTopics } from '../../shared/index.js';
import { topics } from './support.js';
import { closeHttp, listen } from '../support/http-server.js';

const EVENTS = 2_000;
let fete: Fete<typeof topics> | undefined;
let web: { fete: Fete<typeof stormTopics>; server: Server } | undefined;
const aborts = new Set<AbortController>();
afterEach(async () => {
  for (const a of aborts) a.abort();
  aborts.clear();
  await fete?.stop();
  fete = undefined;
  if (web) {
    await web.fete.stop({ drain: false });
    await closeHttp(web.server);
    web = undefined;
  }
});

async function drainWhileQueued(useTx: boolean): Promise<{ atImmediate: number; atTimeout: number }> {
  fete = await createFete({ topics, store: 'memory' });
  await fete.transaction((tx) => tx.query('CREATE TABLE ledger (event_id uuid)'));
  let handled = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  fete.on(topics.work, 'ledger', async (_p, ctx) => {
    if (useTx) await ctx.tx.query('INSERT INTO ledger VALUES ($1)', [ctx.envelope.id]);
    if (++handled === EVENTS) done();
  });
  for (let i = 0; i < EVENTS; i += 500)
    await fete.emitMany(Array.from({ length: 500 }, (_, k) => ({ topic: topics.work, payload: { n: String(i + k) } })));
  const seen = { atImmediate: -1, atTimeout: -1 };
  await fete.start();
  setImmediate(() => (seen.atImmediate = handled));
  setTimeout(() => (seen.atTimeout = handled), 0);
  await all;
  await new Promise((r) => setTimeout(r, 1));
  return seen;
}

describe('PGlite: draining a backlog leaves the event loop free', () => {
  it('with ctx.tx handlers, a setImmediate and a setTimeout queued at start run before the backlog is drained', { timeout: 120_000 }, async () => {
    const seen = await drainWhileQueued(true);
    expect(seen.atImmediate).toBeLessThan(EVENTS);
    expect(seen.atTimeout).toBeLessThan(EVENTS);
  });

  it('with handlers that do not touch the store, a setImmediate and a setTimeout queued at start run before the backlog is drained', { timeout: 120_000 }, async () => {
    const seen = await drainWhileQueued(false);
    expect(seen.atImmediate).toBeLessThan(EVENTS);
    expect(seen.atTimeout).toBeLessThan(EVENTS);
  });
});

const stormTopics = defineTopics({
  tick: defineTopic('ticks.{n}', { kind: 'presentation' }),
  work: defineTopic('work.{n}', { kind: 'domain' }),
});

/** A fete on PGlite in memory (in its worker) behind a real HTTP server. */
async function serve(): Promise<{ fete: Fete<typeof stormTopics>; url: string }> {
  const f = await createFete({ topics: stormTopics, store: 'memory', security: { auth: 'anonymous' } });
  await f.start(); // /health answers 503 'not started' before start() in a worker process
  const app = express();
  app.use('/fete', f.express());
  const server = createServer(app);
  const url = await listen(server);
  web = { fete: f, server };
  return { fete: f, url: `${url}/fete` };
}

/** Opens an SSE stream and counts its event frames as they arrive. */
async function countFrames(url: string, counter: { frames: number }): Promise<void> {
  const abort = new AbortController();
  aborts.add(abort);
  const res = await fetch(url, { signal: abort.signal });
  expect(res.status).toBe(200);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        counter.frames += value.split('\nid: ').length - 1 + (value.startsWith('id: ') ? 1 : 0);
      }
    } catch {
      // aborted at the end of the test
    }
  })();
}

describe('PGlite: store storms do not hold HTTP', () => {
  it('a health request is answered while 16 SSE streams replay 4,000 events each from seq 0', { timeout: 300_000 }, async () => {
    const { fete: f, url } = await serve();
    const N = 4_000;
    for (let i = 0; i < N; i += 500)
      await f.emitMany(Array.from({ length: 500 }, (_, k) => ({ topic: stormTopics.tick, payload: { n: String(i + k) } })));
    const counters = Array.from({ length: 16 }, () => ({ frames: 0 }));
    await Promise.all(counters.map((c) => countFrames(`${url}/stream?pattern=ticks.*&from=0`, c)));
    const total = () => counters.reduce((s, c) => s + c.frames, 0);
    const health = await fetch(`${url}/health`);
    const atAnswer = total();
    expect(health.status).toBe(200);
    // Answered while the streams were still replaying...
    expect(atAnswer).toBeLessThan(16 * N);
    // ...and they were a real storm: every stream gets every event.
    await waitUntil(() => counters.every((c) => c.frames >= N), 'every stream replayed every event');
  });

  it('a health request is answered, and a durable listener runs, while a loop of 2,000 sequential emits runs', { timeout: 300_000 }, async () => {
    const { fete: f, url } = await serve();
    let handled = 0;
    f.on(stormTopics.work, 'counter', () => void handled++);
    await f.start();
    let emitted = 0;
    const loop = (async () => {
      for (let i = 0; i < EVENTS; i++) {
        await f.emit(stormTopics.work, { n: String(i) });
        emitted++;
      }
    })();
    await waitUntil(() => emitted >= 20, 'the loop got going');
    const health = await fetch(`${url}/health`);
    const emittedAtAnswer = emitted;
    expect(health.status).toBe(200);
    await waitUntil(() => handled > 0 || emitted === EVENTS, 'a listener ran or the loop ended');
    const handledDuringLoop = emitted < EVENTS ? handled : 0;
    await loop;
    expect(emittedAtAnswer).toBeLessThan(EVENTS);
    expect(handledDuringLoop).toBeGreaterThan(0);
  });
});

async function waitUntil(check: () => boolean, what: string, timeoutMs = 240_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
