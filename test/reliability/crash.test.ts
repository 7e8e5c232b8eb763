// Issue 3's crash test: a child process runs a fete worker whose listener records each event in a
// ledger table through ctx.tx; 20,000 events are emitted and the child is SIGKILLed at random
// moments at least 10 times, restarted each time; at the end every event is in the ledger exactly
// once and nothing is pending, running or dead. On PGlite (one process owns the directory, so the
// child emits too, by fixed ids, and every restart re-emits: duplicates append nothing) and on
// PostgreSQL (the test process emits while the child works: two processes on one store).
//
// Each life of the child runs until the ledger has grown by a random share of the work (so every
// kill lands while deliveries are claimed and running, and progress between kills is checked by
// construction), plus a random 0-50 ms. No assertion depends on how long anything took.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createFete } from '../../server/index.js';
import { dropSchemas, freshSchema, postgresAvailability } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';
import { Child, type ChildConfig, eventId, sleep, topics } from './support.js';
import { childrenOfThisFile } from './children.js';

const EVENTS = 20_000;
const KILLS = Number(process.env.FETE_CRASH_KILLS ?? 12);
/** Short lease and fast rescue and polling, so work of a killed child runs again quickly. */
const WORKER = { leaseMs: 1500, heartbeatMs: 250, rescueIntervalMs: 200, pollIntervalMs: 100 };
const CONCURRENCY = 10;
const LONG = { timeoutMs: 240_000, intervalMs: 25 };

const postgres = await postgresAvailability();
if (postgres.skipReason) process.stdout.write(`[fete] skipping the PostgreSQL crash test: ${postgres.skipReason}\n`);

const children = childrenOfThisFile();
const spawnChild = (config: ChildConfig): Child => children.spawn(config);

function between(lo: number, hi: number): number {
  return lo + Math.random() * (hi - lo);
}

interface Life {
  pid: number;
  startMs: number;
  ledgerAtStart: number;
  ledgerAtKill: number;
}

/**
 * Starts, waits for progress, SIGKILLs, KILLS times. `ledger` reads the committed ledger count
 * (from the database, or from the child's own report when only it can open the store).
 */
async function killRepeatedly(hooks: {
  start: () => Child;
  ledger: (child: Child) => Promise<number>;
  afterReady?: (child: Child) => void;
  afterKill?: (killed: Child) => void;
}): Promise<Life[]> {
  const { start, ledger } = hooks;
  const lives: Life[] = [];
  for (let k = 0; k < KILLS; k++) {
    const t0 = Date.now();
    const child = start();
    await child.waitFor('ready');
    const startMs = Date.now() - t0;
    hooks.afterReady?.(child);
    const base = await ledger(child);
    // At most EVENTS / (KILLS + 2) per life, so the backlog outlives the last kill.
    const step = Math.max(25, Math.floor(between(0.3, 1) * (EVENTS / (KILLS + 2))));
    await waitFor(
      async () => {
        if (!child.alive) throw new Error(`worker ${child.pid} died on its own:\n${child.stderr.join('').slice(-3000)}`);
        return (await ledger(child)) >= base + step;
      },
      { ...LONG, what: `ledger progress in life ${k + 1}` },
    );
    await sleep(between(0, 50));
    const atKill = await ledger(child);
    await child.kill();
    lives.push({ pid: child.pid, startMs, ledgerAtStart: base, ledgerAtKill: atKill });
    hooks.afterKill?.(child);
  }
  return lives;
}

interface LedgerCheck {
  rows: number;
  distinct: number;
  expectedIds: number;
  rerunAttempts: number;
}

async function checkLedger(query: <R>(sql: string, params?: unknown[]) => Promise<R[]>, schema: string): Promise<LedgerCheck> {
  const ids = Array.from({ length: EVENTS }, (_, i) => eventId(i));
  const [c] = await query<{ rows: string; distinct: string; expected: string; reruns: string }>(
    `SELECT count(*) AS rows, count(DISTINCT event_id) AS distinct,
            count(*) FILTER (WHERE event_id = ANY($1::uuid[])) AS expected,
            count(*) FILTER (WHERE attempt > 1) AS reruns
     FROM "${schema}".ledger`,
    [ids],
  );
  return { rows: Number(c!.rows), distinct: Number(c!.distinct), expectedIds: Number(c!.expected), rerunAttempts: Number(c!.reruns) };
}

function report(engine: string, lives: Life[], ledger: LedgerCheck, wallMs: number): void {
  const starts = lives.map((l) => l.startMs);
  process.stdout.write(
    `[fete] crash test on ${engine}: ${lives.length} SIGKILLs, ledger at kills ${lives.map((l) => l.ledgerAtKill).join(',')}; ` +
      `ledger ${ledger.rows} rows, ${ledger.distinct} distinct, ${ledger.rerunAttempts} written by a later attempt; ` +
      `child start to ready ${Math.min(...starts)}-${Math.max(...starts)} ms; wall ${(wallMs / 1000).toFixed(1)} s\n`,
  );
}

describe('crash: SIGKILLed workers lose nothing and run nothing twice', () => {
  it(`on PGlite: ${EVENTS} events, ${KILLS} SIGKILLs with restarts, every event in the ledger exactly once`, { timeout: 600_000 }, async () => {
    const t0 = Date.now();
    const root = mkdtempSync(join(tmpdir(), 'fete-crash-'));
    children.cleanup(async () => rmSync(root, { recursive: true, force: true }));
    const dir = join(root, 'data');
    const lockFile = `${dir}.lock`;
    const config: ChildConfig = { store: { pglite: dir }, schema: 'fete', mode: 'ledger', emit: EVENTS, worker: WORKER, concurrency: CONCURRENCY };
    const lockOwner = () => Number(readFileSync(lockFile, 'utf8').split('\n')[0]);

    const lives = await killRepeatedly({
      start: () => spawnChild(config),
      // Only the child can open the directory: it reports the committed ledger count.
      ledger: async (child) => {
        await child.waitFor('progress');
        return child.last('progress')!.ledger;
      },
      // A SIGKILL leaves the lock file behind with the dead pid; each new child took it over.
      afterReady: (child) => expect(lockOwner()).toBe(child.pid),
      afterKill: (killed) => expect(lockOwner()).toBe(killed.pid),
    });

    // The last life: runs until all events are emitted and in the ledger, then stops cleanly.
    const last = spawnChild(config);
    await last.waitFor('ready');
    expect(lockOwner()).toBe(last.pid);
    await last.waitFor('progress', (p) => p.emitted === EVENTS && p.ledger >= EVENTS);
    await last.stop();
    expect(existsSync(lockFile)).toBe(false);

    // Checked from this process, on the directory the children left behind.
    const fete = await createFete({ topics, store: { pglite: dir } });
    try {
      const ledger = await checkLedger(async (sql, params) => (await fete.transaction((tx) => tx.query(sql, params))).rows as never, 'fete');
      report('PGlite', lives, ledger, Date.now() - t0);
      expect(lives.length).toBeGreaterThanOrEqual(10);
      // Progress in every life: the kills were spread over the work, not bunched at one end.
      for (const l of lives) expect(l.ledgerAtKill).toBeGreaterThan(l.ledgerAtStart);
      expect(ledger).toMatchObject({ rows: EVENTS, distinct: EVENTS, expectedIds: EVENTS });
      // Some kills cut claimed or running attempts: their deliveries ran again, and still once.
      expect(ledger.rerunAttempts).toBeGreaterThan(0);
      const stats = (await fete.stats()).listeners.find((l) => l.name === 'ledger');
      expect(stats).toMatchObject({ pending: 0, running: 0, retrying: 0, dead: 0 });
      expect(await fete.deadLetters()).toEqual([]);
    } finally {
      await fete.stop();
    }
  });

  it.skipIf(postgres.skipReason !== undefined)(
    `on PostgreSQL: ${EVENTS} events emitted by another process, ${KILLS} SIGKILLs with restarts, every event in the ledger exactly once`,
    { timeout: 600_000 },
    async () => {
      const t0 = Date.now();
      const url = postgres.url!;
      const schema = freshSchema('crash');
      const pool = new pg.Pool({ connectionString: url, max: 2 });
      children.cleanup(async () => {
        await dropSchemas(pool, [schema]);
        await pool.end();
      });
      const query = async <R>(sql: string, params?: unknown[]) => (await pool.query(sql, params)).rows as R[];
      const config: ChildConfig = { store: url, schema, mode: 'ledger', worker: WORKER, concurrency: CONCURRENCY };

      // This process only emits (and reads stats): the children are the workers.
      const web = await createFete({ topics, store: url, schema, roles: ['web'] });
      let emitter: Promise<void> | undefined;
      try {
        let first = true;
        const lives = await killRepeatedly({
          start: () => {
            const child = spawnChild(config);
            if (first) {
              first = false;
              // The listener is recorded by the first child; emitting starts once it is ready.
              emitter = child.waitFor('ready').then(async () => {
                for (let i = 0; i < EVENTS; i += 250) {
                  const n = Math.min(250, EVENTS - i);
                  await web.emitMany(Array.from({ length: n }, (_, k) => ({ topic: topics.work, payload: { n: String(i + k) }, id: eventId(i + k) })));
                  await sleep(between(0, 30));
                }
              });
            }
            return child;
          },
          ledger: async () => Number((await query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".ledger`))[0]!.n),
        });
        await emitter;

        const last = spawnChild(config);
        await last.waitFor('ready');
        const clean = async () => {
          const l = (await web.stats()).listeners.find((x) => x.name === 'ledger');
          return l !== undefined && l.pending + l.running + l.retrying + l.dead === 0;
        };
        await waitFor(clean, { ...LONG, what: 'the backlog to drain' });
        await last.stop();

        const ledger = await checkLedger(query, schema);
        report('PostgreSQL', lives, ledger, Date.now() - t0);
        expect(lives.length).toBeGreaterThanOrEqual(10);
        for (const l of lives) expect(l.ledgerAtKill).toBeGreaterThan(l.ledgerAtStart);
        expect(ledger).toMatchObject({ rows: EVENTS, distinct: EVENTS, expectedIds: EVENTS });
        expect(ledger.rerunAttempts).toBeGreaterThan(0);
        expect((await web.stats()).listeners.find((l) => l.name === 'ledger')).toMatchObject({ pending: 0, running: 0, retrying: 0, dead: 0 });
        expect(await web.deadLetters()).toEqual([]);
      } finally {
        await emitter?.catch(() => undefined);
        await web.stop();
      }
    },
  );
});
