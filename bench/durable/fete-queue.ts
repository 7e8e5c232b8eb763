// fete under the durable benchmark: one no-op durable listener at concurrency 24, every worker
// option at its default. On PostgreSQL each run gets a fresh schema; on PGlite a fresh data
// directory in the OS temp dir (the realistic default: a directory, not memory).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFete } from '../../server/index.js';
import { defineTopic, defineTopics } from '../../shared/index.js';
import { CONCURRENCY, DATABASE_URL, type DrainResult, dropSchema, ENQUEUE_BATCH, freshSchema, Latch, Pinger, type QueueImpl, rate, settleDatabase, until } from './common.js';

const topics = defineTopics({ job: defineTopic('bench.job', { kind: 'domain' }) });

interface Place {
  store: Parameters<typeof createFete>[0]['store'];
  schema: string;
  cleanup(): Promise<void>;
}

function place(engine: 'postgres' | 'pglite'): Place {
  if (engine === 'postgres') {
    const schema = freshSchema('fete');
    return { store: DATABASE_URL, schema, cleanup: () => dropSchema(schema) };
  }
  const dir = mkdtempSync(join(tmpdir(), 'fete-bench-'));
  return { store: { pglite: join(dir, 'data') }, schema: 'fete', cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
}

export function feteQueue(engine: 'postgres' | 'pglite'): QueueImpl {
  return {
    name: engine === 'postgres' ? 'fete (PostgreSQL)' : 'fete (PGlite dir)',
    settings: {
      store: engine === 'postgres' ? 'postgres URL (fete-made pool, 10 connections)' : 'PGlite data directory in os.tmpdir()',
      listener: { concurrency: CONCURRENCY, prefetch: 'default (= concurrency)' },
      worker: 'defaults (claimBatchSize 500, leaseMs 10000, pollIntervalMs 1000, group-commit completions)',
      enqueue: `fete.emitMany, ${ENQUEUE_BATCH} per call`,
    },

    async drain(n: number): Promise<DrainResult> {
      const p = place(engine);
      const fete = await createFete({ topics, store: p.store, schema: p.schema });
      try {
        const latch = new Latch();
        fete.on(topics.job, 'noop', () => latch.add(), { concurrency: CONCURRENCY });
        const e0 = performance.now();
        for (let i = 0; i < n; i += ENQUEUE_BATCH) {
          const size = Math.min(ENQUEUE_BATCH, n - i);
          await fete.emitMany(Array.from({ length: size }, (_, k) => ({ topic: topics.job, payload: { i: i + k } })));
        }
        const enqueueMs = performance.now() - e0;
        if (engine === 'postgres') await settleDatabase(p.schema);
        const t0 = performance.now();
        await fete.start();
        await latch.wait(n);
        await until(async () => {
          const l = (await fete.stats()).listeners.find((x) => x.name === 'noop')!;
          return l.pending + l.running + l.retrying === 0;
        }, 'fete completions');
        const drainMs = performance.now() - t0;
        if (latch.handled !== n) throw new Error(`fete handled ${latch.handled} of ${n}`);
        return { enqueuePerSec: rate(n, enqueueMs), drainMs, jobsPerSec: rate(n, drainMs) };
      } finally {
        await fete.stop();
        await p.cleanup();
      }
    },

    async latency(n: number, warmup: number): Promise<number[]> {
      const p = place(engine);
      const fete = await createFete({ topics, store: p.store, schema: p.schema });
      try {
        const pinger = new Pinger();
        fete.on(topics.job, 'noop', () => pinger.arrived(), { concurrency: CONCURRENCY });
        await fete.start();
        return await pinger.run(n, warmup, (i) => fete.emit(topics.job, { i }));
      } finally {
        await fete.stop();
        await p.cleanup();
      }
    },
  };
}
