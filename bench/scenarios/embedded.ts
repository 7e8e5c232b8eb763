// The embedded store (issue 11): PGlite in its worker thread against PostgreSQL, side by side in one
// run. Four measurements:
// - event-loop lag on the main thread (perf_hooks.monitorEventLoopDelay, 10 ms resolution: max and
//   p99) while 64 replays read a log of 20,000 events from seq 0 for a pattern that matches
//   nothing (the replays of subscriptions and SSE streams, through fete.log.read, pages of 500),
//   and while a loop of 2,000 sequential `await fete.emit(...)` runs;
// - the durable drain and latency of bench/scenarios/durable.ts (its fete queue, reused);
// - createFete to ready on a fresh data directory vs an existing one (and a first start on a
//   machine with no template yet);
// - `npm start` time to its URL: a fresh clone's first start (no built page, no data directory,
//   no template) and a second start.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createFete, type Fete } from '../../server/index.js';
import { defineTopic, defineTopics } from '../../shared/index.js';
import { DATABASE_URL, closeAdmin, dropSchema, freshSchema } from '../durable/common.js';
import { feteQueue } from '../durable/fete-queue.js';
import { type Comparison, type Figure, fmt, higherIsBetter, lowerIsBetter, type Scenario } from '../harness.js';

const LOG_EVENTS = Number(process.env.FETE_BENCH_EMBEDDED_EVENTS ?? 20_000);
const REPLAYS = 64;
const EMITS = Number(process.env.FETE_BENCH_EMBEDDED_EMITS ?? 2_000);
const DRAIN = Number(process.env.FETE_BENCH_EMBEDDED_DRAIN ?? 20_000);
const LATENCY = Number(process.env.FETE_BENCH_EMBEDDED_LATENCY ?? 500);
const repo = fileURLToPath(new URL('../..', import.meta.url));

const topics = defineTopics({
  tick: defineTopic('ticks.{n}', { kind: 'presentation' }),
  other: defineTopic('others.{n}', { kind: 'presentation' }),
});

type Engine = 'pglite' | 'postgres';
const NAME: Record<Engine, string> = { pglite: 'fete (PGlite worker, dir)', postgres: 'fete (PostgreSQL)' };

function log(line: string): void {
  process.stdout.write(`  [embedded] ${line}\n`);
}

interface Place {
  fete: Fete<typeof topics>;
  close(): Promise<void>;
}

async function open(engine: Engine): Promise<Place> {
  if (engine === 'postgres') {
    const schema = freshSchema('emb');
    const fete = await createFete({ topics, store: DATABASE_URL, schema });
    return { fete, close: async () => (await fete.stop({ drain: false }), await dropSchema(schema)) };
  }
  const dir = mkdtempSync(join(tmpdir(), 'fete-bench-emb-'));
  const fete = await createFete({ topics, store: { pglite: join(dir, 'data') } });
  return { fete, close: async () => (await fete.stop({ drain: false }), rmSync(dir, { recursive: true, force: true })) };
}

/** Event-loop delay while `work` runs: max and p99 in ms (10 ms resolution). */
async function lagDuring(work: () => Promise<void>): Promise<{ maxMs: number; p99Ms: number; ms: number }> {
  const h = monitorEventLoopDelay({ resolution: 10 });
  const started = performance.now();
  h.enable();
  try {
    await work();
  } finally {
    h.disable();
  }
  return { maxMs: h.max / 1e6, p99Ms: h.percentile(99) / 1e6, ms: performance.now() - started };
}

async function replayStorm(engine: Engine) {
  const p = await open(engine);
  try {
    for (let i = 0; i < LOG_EVENTS; i += 1000)
      await p.fete.emitMany(Array.from({ length: Math.min(1000, LOG_EVENTS - i) }, (_, k) => ({ topic: topics.tick, payload: { n: String(i + k) } })));
    const head = await p.fete.log.head();
    // Settle the log once, as the fanout's tail does when it starts.
    await p.fete.log.read(head - 1, { limit: 1 });
    const replay = async () => {
      let cursor = 0;
      while (cursor < head) {
        const page = await p.fete.log.read(cursor, { pattern: 'ticks.nobody', limit: 500 });
        if (page.cursor <= cursor) throw new Error(`replay stalled at ${cursor}`);
        cursor = page.cursor;
      }
    };
    return await lagDuring(() => Promise.all(Array.from({ length: REPLAYS }, replay)).then(() => undefined));
  } finally {
    await p.close();
  }
}

async function emitLoop(engine: Engine) {
  const p = await open(engine);
  try {
    return await lagDuring(async () => {
      for (let i = 0; i < EMITS; i++) await p.fete.emit(topics.other, { n: String(i) });
    });
  } finally {
    await p.close();
  }
}

async function startTimes(): Promise<{ firstMs: number; existingMs: number; noTemplateMs: number }> {
  const root = mkdtempSync(join(tmpdir(), 'fete-bench-start-'));
  try {
    const time = async (dir: string) => {
      const t = performance.now();
      const fete = await createFete({ topics, store: { pglite: dir } });
      const ms = performance.now() - t;
      await fete.stop();
      return ms;
    };
    // With a template in the cache (made by the runs above, or by this one).
    await time(join(root, 'warm'));
    const firstMs = await time(join(root, 'fresh'));
    const existingMs = await time(join(root, 'fresh'));
    // A machine that never made the template: an empty cache directory.
    const saved = process.env.FETE_CACHE_DIR;
    process.env.FETE_CACHE_DIR = join(root, 'cache');
    let noTemplateMs: number;
    try {
      noTemplateMs = await time(join(root, 'no-template'));
    } finally {
      if (saved === undefined) delete process.env.FETE_CACHE_DIR;
      else process.env.FETE_CACHE_DIR = saved;
    }
    return { firstMs, existingMs, noTemplateMs };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** `npm start` until it prints its URL; the process group is stopped afterwards. */
function npmStart(env: Record<string, string>): Promise<number> {
  const t = performance.now();
  const child: ChildProcess = spawn('npm', ['start'], { cwd: repo, env: { ...process.env, PORT: '0', FETE_DATABASE_URL: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start printed no URL within 600 s:\n${out}`)), 600_000);
    const onData = (c: Buffer) => {
      out += c.toString();
      if (/➜ http:\/\/localhost:\d+/.test(out)) {
        clearTimeout(timer);
        resolve(performance.now() - t);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`npm start exited (${code}):\n${out}`)));
  }).finally(async () => {
    child.removeAllListeners('exit');
    const exited = new Promise((r) => child.once('exit', r));
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      // already gone
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  });
}

async function npmStartTimes(): Promise<{ firstMs: number; secondMs: number }> {
  const root = mkdtempSync(join(tmpdir(), 'fete-bench-npm-'));
  try {
    // A fresh clone: no built page, no data directory, no template on the machine.
    rmSync(join(repo, 'dist/playground'), { recursive: true, force: true });
    const env = { FETE_DATA_DIR: join(root, 'data'), FETE_CACHE_DIR: join(root, 'cache') };
    const firstMs = await npmStart(env);
    const secondMs = await npmStart(env);
    return { firstMs, secondMs };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const scenario: Scenario = {
  name: 'embedded',
  description: `PGlite in its worker vs PostgreSQL: event-loop lag during ${REPLAYS} replays of ${LOG_EVENTS} events and ${EMITS} sequential emits, drain and latency, createFete fresh vs existing, npm start to URL`,
  async run() {
    const figures: Figure[] = [];
    const comparisons: Comparison[] = [];
    const engines: Engine[] = ['pglite', 'postgres'];
    try {
      const storm = new Map<Engine, Awaited<ReturnType<typeof replayStorm>>>();
      const loop = new Map<Engine, Awaited<ReturnType<typeof emitLoop>>>();
      for (const e of engines) {
        const r = await replayStorm(e);
        storm.set(e, r);
        log(`replay storm ${e}: lag max ${r.maxMs.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms (${(r.ms / 1000).toFixed(2)} s)`);
      }
      for (const e of engines) {
        const r = await emitLoop(e);
        loop.set(e, r);
        log(`emit loop ${e}: lag max ${r.maxMs.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms (${(r.ms / 1000).toFixed(2)} s, ${fmt((EMITS * 1000) / r.ms)} emits/s)`);
      }
      for (const e of engines) {
        const s = storm.get(e)!;
        const l = loop.get(e)!;
        figures.push(
          { name: `lag max, ${REPLAYS} replays of ${LOG_EVENTS} events, pattern matching nothing`, impl: NAME[e], value: s.maxMs, unit: 'ms' },
          { name: `lag p99, ${REPLAYS} replays of ${LOG_EVENTS} events, pattern matching nothing`, impl: NAME[e], value: s.p99Ms, unit: 'ms' },
          { name: `time of ${REPLAYS} replays of ${LOG_EVENTS} events, pattern matching nothing`, impl: NAME[e], value: s.ms, unit: 'ms' },
          { name: `lag max, ${EMITS} sequential emits`, impl: NAME[e], value: l.maxMs, unit: 'ms' },
          { name: `lag p99, ${EMITS} sequential emits`, impl: NAME[e], value: l.p99Ms, unit: 'ms' },
          { name: `${EMITS} sequential emits`, impl: NAME[e], value: (EMITS * 1000) / l.ms, unit: 'emits/s' },
        );
      }
      comparisons.push(lowerIsBetter('lag max during the replay storm (PGlite / Postgres)', storm.get('pglite')!.maxMs, storm.get('postgres')!.maxMs, NAME.postgres, 2));
      comparisons.push(lowerIsBetter('lag max during the emit loop (PGlite / Postgres)', loop.get('pglite')!.maxMs, loop.get('postgres')!.maxMs, NAME.postgres, 2));

      const lite = feteQueue('pglite');
      const pgq = feteQueue('postgres');
      await lite.drain(Math.min(2000, DRAIN)); // warm-up, not reported
      await pgq.drain(Math.min(2000, DRAIN));
      const dl = await lite.drain(DRAIN);
      const dp = await pgq.drain(DRAIN);
      log(`drain ${DRAIN}: PGlite ${fmt(dl.jobsPerSec)} jobs/s, PostgreSQL ${fmt(dp.jobsPerSec)} jobs/s`);
      const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const ll = avg(await lite.latency(LATENCY, 50));
      const lp = avg(await pgq.latency(LATENCY, 50));
      log(`latency avg of ${LATENCY}: PGlite ${ll.toFixed(2)} ms, PostgreSQL ${lp.toFixed(2)} ms`);
      figures.push(
        { name: `drain ${DRAIN} jobs (durable scenario's fete queue)`, impl: lite.name, value: dl.jobsPerSec, unit: 'jobs/s' },
        { name: `drain ${DRAIN} jobs (durable scenario's fete queue)`, impl: pgq.name, value: dp.jobsPerSec, unit: 'jobs/s' },
        { name: `enqueue-to-handler latency, avg of ${LATENCY} sequential`, impl: lite.name, value: ll, unit: 'ms' },
        { name: `enqueue-to-handler latency, avg of ${LATENCY} sequential`, impl: pgq.name, value: lp, unit: 'ms' },
      );
      comparisons.push(higherIsBetter('drain throughput (PGlite / Postgres)', dl.jobsPerSec, dp.jobsPerSec, pgq.name, 0.5));
      comparisons.push(lowerIsBetter('average latency (PGlite / Postgres)', ll, lp, pgq.name, 1.5));

      const st = await startTimes();
      log(`createFete to ready: fresh dir ${fmt(st.firstMs)} ms, existing ${fmt(st.existingMs)} ms, no template yet ${fmt(st.noTemplateMs)} ms`);
      figures.push(
        { name: 'createFete to ready, fresh data directory (template cached)', impl: NAME.pglite, value: st.firstMs, unit: 'ms' },
        { name: 'createFete to ready, existing data directory', impl: NAME.pglite, value: st.existingMs, unit: 'ms' },
        { name: 'createFete to ready, fresh data directory, no template on the machine yet', impl: NAME.pglite, value: st.noTemplateMs, unit: 'ms' },
      );
      comparisons.push(lowerIsBetter('createFete fresh dir / existing dir', st.firstMs, st.existingMs, 'existing data directory', 2));

      const ns = await npmStartTimes();
      log(`npm start to URL: first start of a fresh clone ${fmt(ns.firstMs)} ms, second start ${fmt(ns.secondMs)} ms`);
      figures.push(
        { name: 'npm start to URL, fresh clone (no built page, no data, no template)', impl: 'npm start', value: ns.firstMs, unit: 'ms' },
        { name: 'npm start to URL, second start', impl: 'npm start', value: ns.secondMs, unit: 'ms' },
      );
    } finally {
      await closeAdmin();
    }
    return {
      settings: { logEvents: LOG_EVENTS, replays: REPLAYS, emits: EMITS, drain: DRAIN, latency: LATENCY, lagResolutionMs: 10 },
      figures,
      comparisons,
      notes: [
        'Lag: perf_hooks.monitorEventLoopDelay (resolution 10 ms) on the main thread, enabled only while the storm or the loop runs.',
        `Replays: ${REPLAYS} concurrent loops of fete.log.read from seq 0 to the head, pattern ticks.nobody (a topic's template matches it, no event does), pages of 500 — the reads of subscription and SSE replays.`,
        'Drain and latency: the durable scenario\'s fete queue (PGlite in a data directory in os.tmpdir(), PostgreSQL fresh schema), one warm-up drain each, one measured run each (the durable scenario reports best of rounds).',
        'This machine has 2 cores shared with six other engineers\' test runs: absolute times are noisy; ratios come from one run, side by side.',
      ],
    };
  },
};

export default scenario;
