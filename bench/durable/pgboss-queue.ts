// pg-boss 12 under the durable benchmark: LISTEN/NOTIFY on (instance `useListenNotify` plus a
// `notify: true` queue), 24 local workers fetching batches of 20. `burstWhenBatchFull` makes a
// worker fetch again at once while fetches come back full; without it every worker sleeps its
// polling interval (30 s with NOTIFY active) between batches even with a backlog waiting.
import { PgBoss } from 'pg-boss';
import { CONCURRENCY, count, DATABASE_URL, type DrainResult, dropSchema, ENQUEUE_BATCH, freshSchema, Latch, Pinger, type QueueImpl, rate, settleDatabase, until } from './common.js';

const QUEUE = 'job';
const BATCH_SIZE = 20;

async function openBoss(schema: string): Promise<PgBoss> {
  const boss = new PgBoss({ connectionString: DATABASE_URL, schema, useListenNotify: true });
  boss.on('error', (err) => process.stderr.write(`pg-boss error: ${(err as Error).message}\n`));
  await boss.start();
  await boss.createQueue(QUEUE, { notify: true });
  return boss;
}

export function pgbossQueue(): QueueImpl {
  const work = { localConcurrency: CONCURRENCY, batchSize: BATCH_SIZE, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5, notifyPollingIntervalSeconds: 0.5 };
  return {
    name: 'pg-boss',
    settings: { useListenNotify: true, queue: { notify: true }, work, rest: 'library defaults (pool max 10)', enqueue: `boss.insert, ${ENQUEUE_BATCH} per call` },

    async drain(n: number): Promise<DrainResult> {
      const schema = freshSchema('pgb');
      const boss = await openBoss(schema);
      try {
        const e0 = performance.now();
        for (let i = 0; i < n; i += ENQUEUE_BATCH) {
          const size = Math.min(ENQUEUE_BATCH, n - i);
          await boss.insert(QUEUE, Array.from({ length: size }, (_, k) => ({ data: { i: i + k } })));
        }
        const enqueueMs = performance.now() - e0;
        await settleDatabase(schema);
        const latch = new Latch();
        const t0 = performance.now();
        await boss.work<{ i: number }>(QUEUE, work, async (jobs) => latch.add(jobs.length));
        await latch.wait(n);
        const open = `SELECT count(*) AS n FROM "${schema}".job WHERE name = '${QUEUE}' AND state IN ('created', 'retry', 'active')`;
        await until(async () => (await count(open)) === 0, 'pg-boss completions');
        const drainMs = performance.now() - t0;
        if (latch.handled !== n) throw new Error(`pg-boss handled ${latch.handled} of ${n}`);
        return { enqueuePerSec: rate(n, enqueueMs), drainMs, jobsPerSec: rate(n, drainMs) };
      } finally {
        await boss.stop({ graceful: true, timeout: 10_000 });
        await dropSchema(schema);
      }
    },

    async latency(n: number, warmup: number): Promise<number[]> {
      const schema = freshSchema('pgb');
      const boss = await openBoss(schema);
      try {
        const pinger = new Pinger();
        await boss.work(QUEUE, work, async () => pinger.arrived());
        return await pinger.run(n, warmup, (i) => boss.send(QUEUE, { i }));
      } finally {
        await boss.stop({ graceful: true, timeout: 10_000 });
        await dropSchema(schema);
      }
    },
  };
}
