// graphile-worker 0.18 under the durable benchmark, in two configurations: its defaults (only
// `concurrency: 24` set, as the scenario asks), and the batched settings its performance docs
// describe: pool 25, a local queue of 500, completion and failure batching with delay 0.
import { Logger, makeWorkerUtils, run, runMigrations, type RunnerOptions } from 'graphile-worker';
import { CONCURRENCY, count, DATABASE_URL, type DrainResult, dropSchema, ENQUEUE_BATCH, freshSchema, Latch, Pinger, type QueueImpl, rate, settleDatabase, until } from './common.js';

const silent = new Logger(() => () => undefined);

export function graphileQueue(mode: 'default' | 'batched'): QueueImpl {
  const tuned: Partial<RunnerOptions> =
    mode === 'batched'
      ? { maxPoolSize: 25, preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } } }
      : {};
  const options = (schema: string, task: () => void): RunnerOptions => ({
    connectionString: DATABASE_URL,
    schema,
    logger: silent,
    concurrency: CONCURRENCY,
    noHandleSignals: true,
    crontab: '',
    taskList: { job: async () => task() },
    ...tuned,
  });

  return {
    name: `graphile-worker (${mode})`,
    settings: {
      concurrency: CONCURRENCY,
      ...(mode === 'batched'
        ? { maxPoolSize: 25, 'preset.worker.localQueue.size': 500, completeJobBatchDelay: 0, failJobBatchDelay: 0 }
        : { rest: 'library defaults (maxPoolSize 10, no local queue, no completion batching, pollInterval 2000)' }),
      enqueue: `workerUtils.addJobs, ${ENQUEUE_BATCH} per call`,
    },

    async drain(n: number): Promise<DrainResult> {
      const schema = freshSchema('gw');
      try {
        await runMigrations({ connectionString: DATABASE_URL, schema, logger: silent });
        const utils = await makeWorkerUtils({ connectionString: DATABASE_URL, schema, logger: silent });
        const e0 = performance.now();
        try {
          for (let i = 0; i < n; i += ENQUEUE_BATCH) {
            const size = Math.min(ENQUEUE_BATCH, n - i);
            await utils.addJobs(Array.from({ length: size }, (_, k) => ({ identifier: 'job', payload: { i: i + k } })));
          }
        } finally {
          await utils.release();
        }
        const enqueueMs = performance.now() - e0;
        await settleDatabase(schema);
        const latch = new Latch();
        const t0 = performance.now();
        const runner = await run(options(schema, () => latch.add()));
        let drainMs: number;
        try {
          await latch.wait(n);
          await until(async () => (await count(`SELECT count(*) AS n FROM "${schema}"._private_jobs`)) === 0, 'graphile-worker completions');
          drainMs = performance.now() - t0;
        } finally {
          await runner.stop();
        }
        if (latch.handled !== n) throw new Error(`graphile-worker handled ${latch.handled} of ${n}`);
        return { enqueuePerSec: rate(n, enqueueMs), drainMs, jobsPerSec: rate(n, drainMs) };
      } finally {
        await dropSchema(schema);
      }
    },

    async latency(n: number, warmup: number): Promise<number[]> {
      const schema = freshSchema('gw');
      const pinger = new Pinger();
      const runner = await run(options(schema, () => pinger.arrived()));
      try {
        return await pinger.run(n, warmup, (i) => runner.addJob('job', { i }));
      } finally {
        await runner.stop();
        await dropSchema(schema);
      }
    },
  };
}
