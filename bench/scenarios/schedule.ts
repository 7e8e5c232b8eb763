// Timer precision of delayed work: how late a delivery runs after the time it was due, for
// delayed emits (`runAt`) and for retries after a fixed backoff, fete against graphile-worker's
// `run_at` on the same local PostgreSQL. 1,000 jobs per implementation, due times spread evenly
// over a WINDOW_MS window starting a second after they are enqueued (all enqueued first); each
// job's first attempt records its lateness (now - runAt) and fails, and its second attempt
// records its lateness against (failure time + RETRY_MS). graphile-worker retries after
// exp(attempts) seconds (its SQL), so fete's backoff is set to the same e seconds.
// Both at concurrency 24 with their default polling (fete 1 s, graphile-worker 2 s).
import { run, makeWorkerUtils, runMigrations, Logger } from 'graphile-worker';
import { z } from 'zod';
import { createFete } from '../../server/index.js';
import { defineTopic, defineTopics } from '../../shared/index.js';
import { CONCURRENCY, DATABASE_URL, closeAdmin, dropSchema, freshSchema } from '../durable/common.js';
import { type Comparison, type Figure, lowerIsBetter, percentile, type Scenario } from '../harness.js';

const JOBS = Number(process.env.FETE_BENCH_SCHEDULE_JOBS ?? 1000);
const WINDOW_MS = Number(process.env.FETE_BENCH_SCHEDULE_WINDOW_MS ?? 5000);
const LEAD_MS = 1000;
/** graphile-worker's first retry: exp(1) seconds. */
const RETRY_MS = Math.exp(1) * 1000;

const topics = defineTopics({ job: defineTopic('bench.delayed.{i}', { kind: 'domain', schema: z.object({ i: z.number(), runAt: z.number() }) }) });

interface Lateness {
  delayed: number[];
  retries: number[];
}

function log(line: string): void {
  process.stdout.write(`  [schedule] ${line}\n`);
}

/** Collects lateness until both lists have JOBS entries. */
class Recorder {
  readonly l: Lateness = { delayed: [], retries: [] };
  readonly failedAt = new Map<number, number>();
  #done: (() => void) | undefined;
  readonly done = new Promise<void>((r) => (this.#done = r));

  first(i: number, runAt: number): void {
    this.l.delayed.push(Date.now() - runAt);
    this.failedAt.set(i, Date.now());
  }

  second(i: number): void {
    this.l.retries.push(Date.now() - (this.failedAt.get(i)! + RETRY_MS));
    if (this.l.retries.length >= JOBS) this.#done?.();
  }
}

function plan(): Array<{ i: number; runAt: number }> {
  const start = Date.now() + LEAD_MS;
  return Array.from({ length: JOBS }, (_, i) => ({ i, runAt: Math.round(start + (i * WINDOW_MS) / JOBS) }));
}

async function feteRun(): Promise<Lateness> {
  const schema = freshSchema('sched');
  const fete = await createFete({ topics, store: DATABASE_URL, schema });
  const rec = new Recorder();
  try {
    fete.on(topics.job, 'delayed', (p, ctx) => {
      if (ctx.attempt === 1) {
        rec.first(p.i, p.runAt);
        throw new Error('first attempt fails');
      }
      rec.second(p.i);
    }, { concurrency: CONCURRENCY, retries: 1, backoff: () => RETRY_MS });
    await fete.start();
    const jobs = plan();
    for (let k = 0; k < jobs.length; k += 500)
      await fete.emitMany(jobs.slice(k, k + 500).map((j) => ({ topic: topics.job, payload: j, runAt: j.runAt })));
    await rec.done;
    return rec.l;
  } finally {
    await fete.stop({ drain: false });
    await dropSchema(schema);
  }
}

async function graphileRun(): Promise<Lateness> {
  const schema = freshSchema('gwsched');
  const logger = new Logger(() => () => undefined);
  const rec = new Recorder();
  await runMigrations({ connectionString: DATABASE_URL, schema, logger });
  const runner = await run({
    connectionString: DATABASE_URL,
    schema,
    logger,
    concurrency: CONCURRENCY,
    noHandleSignals: true,
    crontab: '',
    taskList: {
      job: async (payload, helpers) => {
        const p = payload as { i: number; runAt: number };
        if (helpers.job.attempts === 1) {
          rec.first(p.i, p.runAt);
          throw new Error('first attempt fails');
        }
        rec.second(p.i);
      },
    },
  });
  try {
    const utils = await makeWorkerUtils({ connectionString: DATABASE_URL, schema, logger });
    try {
      const jobs = plan();
      for (let k = 0; k < jobs.length; k += 500)
        await utils.addJobs(jobs.slice(k, k + 500).map((j) => ({ identifier: 'job', payload: j, runAt: new Date(j.runAt), maxAttempts: 2 })));
    } finally {
      await utils.release();
    }
    await rec.done;
    return rec.l;
  } finally {
    await runner.stop();
    await dropSchema(schema);
  }
}

function stats(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p99: percentile(s, 99), max: s.at(-1)!, early: s.filter((x) => x < -1).length };
}

const scenario: Scenario = {
  name: 'schedule',
  description: `lateness of ${JOBS} delayed deliveries (runAt over ${WINDOW_MS} ms) and their ${JOBS} retries (${Math.round(RETRY_MS)} ms backoff): fete vs graphile-worker run_at on PostgreSQL`,
  async run() {
    const results: Array<[string, Lateness]> = [];
    try {
      // graphile-worker first, then fete: each gets the machine to itself.
      for (const [name, fn] of [['graphile-worker', graphileRun], ['fete', feteRun]] as const) {
        const l = await fn();
        const d = stats(l.delayed);
        const r = stats(l.retries);
        log(`${name}: delayed p50 ${d.p50.toFixed(1)} ms p99 ${d.p99.toFixed(1)} ms (early: ${d.early}); retries p50 ${r.p50.toFixed(1)} ms p99 ${r.p99.toFixed(1)} ms (early: ${r.early})`);
        results.push([name, l]);
      }
    } finally {
      await closeAdmin();
    }
    const figures: Figure[] = [];
    const by = new Map(results.map(([n, l]) => [n, { delayed: stats(l.delayed), retries: stats(l.retries) }]));
    for (const [name, s] of by) {
      const impl = name === 'fete' ? 'fete (PostgreSQL)' : 'graphile-worker';
      figures.push(
        { name: `delayed delivery lateness p50 (${JOBS} due times)`, impl, value: s.delayed.p50, unit: 'ms' },
        { name: `delayed delivery lateness p99 (${JOBS} due times)`, impl, value: s.delayed.p99, unit: 'ms', settings: { max: s.delayed.max, early: s.delayed.early } },
        { name: `retry lateness p50 (${JOBS} retries)`, impl, value: s.retries.p50, unit: 'ms' },
        { name: `retry lateness p99 (${JOBS} retries)`, impl, value: s.retries.p99, unit: 'ms', settings: { max: s.retries.max, early: s.retries.early } },
      );
    }
    const f = by.get('fete')!;
    const g = by.get('graphile-worker')!;
    const comparisons: Comparison[] = [
      lowerIsBetter('delayed delivery p99 lateness', f.delayed.p99, g.delayed.p99, 'graphile-worker', 0.5),
      lowerIsBetter('retry p99 lateness', f.retries.p99, g.retries.p99, 'graphile-worker', 0.5),
      lowerIsBetter('delayed delivery p50 lateness', f.delayed.p50, g.delayed.p50, 'graphile-worker'),
      lowerIsBetter('retry p50 lateness', f.retries.p50, g.retries.p50, 'graphile-worker'),
    ];
    return {
      settings: { jobs: JOBS, windowMs: WINDOW_MS, leadMs: LEAD_MS, retryMs: RETRY_MS, concurrency: CONCURRENCY, postgres: 'local PostgreSQL, fresh schema each' },
      figures,
      comparisons,
      notes: [
        'Lateness = handler start (Date.now()) minus the due time; for retries the due time is the failure time (taken in the handler just before it throws) plus the backoff, so it includes recording the failure.',
        'Both with library defaults besides concurrency 24: fete pollIntervalMs 1000 (not what wakes it: a per-listener timer for the next due delivery), graphile-worker pollInterval 2000.',
        'One run each, graphile-worker first; this machine has 2 cores shared with other work.',
      ],
    };
  },
};

export default scenario;
