// A fete worker process for the reliability tests: `node --import tsx worker-child.ts '<config>'`
// (see ChildConfig in support.ts). It opens the store, creates the ledger table (deliberately
// without a unique constraint: a delivery that ran twice shows up as two rows), registers one
// durable listener whose handler writes the ledger through ctx.tx, starts the worker, and prints
// JSON lines on stdout: `ready`, then `progress` (ledger rows, events emitted) every 100 ms and
// every 100 ledger writes.
// SIGTERM stops fete (draining) and exits 0; the tests SIGKILL and SIGSTOP it at will.
import { createFete } from '../../server/index.js';
import { type ChildConfig, type ChildMessage, eventId, topics } from './support.js';

const config = JSON.parse(process.argv[2]!) as ChildConfig;

function say(m: ChildMessage): void {
  process.stdout.write(`${JSON.stringify(m)}\n`);
}

process.on('unhandledRejection', (err) => {
  say({ type: 'error', message: String((err as Error)?.stack ?? err) });
  process.exit(1);
});

const fete = await createFete({ topics, store: config.store, schema: config.schema, worker: config.worker });
const ledger = `"${config.schema}".ledger`;
const starts = `"${config.schema}".starts`;
await fete.transaction(async (tx) => {
  await tx.query(`CREATE TABLE IF NOT EXISTS ${ledger} (event_id uuid NOT NULL, pid int NOT NULL, attempt int NOT NULL)`);
  await tx.query(`CREATE TABLE IF NOT EXISTS ${starts} (event_id uuid NOT NULL, pid int NOT NULL, attempt int NOT NULL)`);
});

let written = 0;
let emitted = 0;
let openGate: () => void = () => undefined;
const gate = new Promise<void>((resolve) => (openGate = resolve));
process.on('SIGUSR2', () => openGate());

fete.on(
  topics.work,
  'ledger',
  async (_payload, ctx) => {
    if (config.mode === 'gated') {
      // Outside ctx.tx (its own autocommit transaction): survives the attempt's rollback.
      await fete.transaction((tx) => tx.query(`INSERT INTO ${starts} VALUES ($1, $2, $3)`, [ctx.envelope.id, process.pid, ctx.attempt]));
    }
    await ctx.tx.query(`INSERT INTO ${ledger} VALUES ($1, $2, $3)`, [ctx.envelope.id, process.pid, ctx.attempt]);
    if (++written % 100 === 0) {
      // Progress from inside the work as well: while PGlite drains a backlog, timers may not get
      // a turn (see the progress interval below). This transaction sees the committed rows and its own.
      const r = await ctx.tx.query<{ n: string }>(`SELECT count(*) AS n FROM ${ledger}`);
      say({ type: 'progress', ledger: Number(r.rows[0]!.n) - 1, emitted });
    }
    if (config.mode === 'gated') {
      say({ type: 'started', eventId: ctx.envelope.id, attempt: ctx.attempt, pid: process.pid });
      // A stalled worker that does not notice its lease is gone: ctx.signal is ignored on purpose.
      await gate;
      say({ type: 'returned', eventId: ctx.envelope.id, aborted: ctx.signal.aborted });
    }
  },
  // Every SIGKILL costs the deliveries held at that moment one attempt (attempts are counted at
  // claim), so the budget is large: these tests are about exactly-once, not dead letters.
  { concurrency: config.concurrency, retries: 100, backoff: { initialMs: 10, factor: 2, maxMs: 200, jitter: 0.5 } },
);
await fete.start();

let stopping = false;
const progress = setInterval(() => {
  fete
    .transaction((tx) => tx.query<{ n: string }>(`SELECT count(*) AS n FROM ${ledger}`))
    .then((r) => {
      if (!stopping) say({ type: 'progress', ledger: Number(r.rows[0]!.n), emitted });
    })
    .catch(() => undefined);
}, 100);

process.on('SIGTERM', () => {
  stopping = true;
  clearInterval(progress);
  fete.stop().then(
    () => {
      say({ type: 'stopped' });
      process.exit(0);
    },
    (err: Error) => {
      say({ type: 'error', message: String(err.stack ?? err) });
      process.exit(1);
    },
  );
});

say({ type: 'ready', pid: process.pid });

// Emits from the start every time: ids are fixed, so what a previous life appended is a duplicate.
const BATCH = 250;
for (let i = 0; i < (config.emit ?? 0) && !stopping; i += BATCH) {
  const n = Math.min(BATCH, config.emit! - i);
  await fete.emitMany(Array.from({ length: n }, (_, k) => ({ topic: topics.work, payload: { n: String(i + k) }, id: eventId(i + k) })));
  emitted = i + n;
}
