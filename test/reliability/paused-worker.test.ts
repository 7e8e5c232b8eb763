// Issue 3: a paused worker (SIGSTOP past its lease, then SIGCONT) never completes a delivery that
// was rescued and re-run.
//
// PostgreSQL (two processes share the store): worker A claims the delivery, records "started"
// outside ctx.tx, writes its ledger row through ctx.tx, and then waits on a gate (SIGUSR2), never
// looking at ctx.signal, like a stalled process that does not know it stalled. The test SIGSTOPs A;
// worker B rescues the expired lease, runs the delivery and completes it. Then A is continued and
// its gate opened: its completion must be refused (the lease token moved on) and its ctx.tx row
// rolled back, leaving exactly B's ledger row.
//
// PGlite has no second process to rescue: the directory belongs to one process, and a stopped
// process is still alive, so its lock holds (a second opener gets STORE_LOCKED rather than a
// corrupt store). What can be checked there is that: a paused owner keeps the store, and after
// SIGCONT the delivery completes exactly once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createFete } from '../../server/index.js';
import { dropSchemas, freshSchema, postgresAvailability } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';
import { Child, type ChildConfig, eventId, sleep, topics } from './support.js';
import { childrenOfThisFile } from './children.js';

const postgres = await postgresAvailability();
if (postgres.skipReason) process.stdout.write(`[fete] skipping the PostgreSQL paused-worker test: ${postgres.skipReason}\n`);

const children = childrenOfThisFile();
const spawnChild = (config: ChildConfig): Child => children.spawn(config);

const WAIT = { timeoutMs: 60_000, intervalMs: 25 };

describe('a paused worker never completes a delivery that was rescued', () => {
  it.skipIf(postgres.skipReason !== undefined)(
    'on PostgreSQL: A is SIGSTOPped past its lease, B rescues and completes, A continues and its completion and ctx.tx writes are refused',
    { timeout: 120_000 },
    async () => {
      const url = postgres.url!;
      const schema = freshSchema('paused');
      const pool = new pg.Pool({ connectionString: url, max: 2 });
      children.cleanup(async () => {
        await dropSchemas(pool, [schema]);
        await pool.end();
      });
      const rows = async <R>(sql: string) => (await pool.query(sql)).rows as R[];
      const worker = { leaseMs: 1000, heartbeatMs: 150, rescueIntervalMs: 100, pollIntervalMs: 50 };
      const web = await createFete({ topics, store: url, schema, roles: ['web'] });
      try {
        const a = spawnChild({ store: url, schema, mode: 'gated', worker, concurrency: 1 });
        await a.waitFor('ready');
        const id = eventId(0);
        await web.emit(topics.work, { n: '0' }, { id });
        const started = await a.waitFor('started');
        expect(started).toMatchObject({ eventId: id, attempt: 1, pid: a.pid });

        // A holds the lease and an open transaction with its ledger row in it; now it stops.
        a.proc.kill('SIGSTOP');
        const b = spawnChild({ store: url, schema, mode: 'ledger', worker, concurrency: 1 });
        await b.waitFor('ready');
        const ledgerOf = () => rows<{ event_id: string; pid: number; attempt: number }>(`SELECT * FROM "${schema}".ledger ORDER BY attempt`);
        await waitFor(async () => (await ledgerOf()).length > 0, { ...WAIT, what: 'B to complete the rescued delivery' });
        expect(await ledgerOf()).toEqual([{ event_id: id, pid: b.pid, attempt: 2 }]);
        const afterB = (await web.stats()).listeners.find((l) => l.name === 'ledger');
        expect(afterB).toMatchObject({ pending: 0, running: 0, retrying: 0, dead: 0 });

        // A resumes and finishes its handler as if nothing happened.
        a.proc.kill('SIGCONT');
        a.proc.kill('SIGUSR2');
        const returned = await a.waitFor('returned');
        await a.stop(); // drains: A's attempt has ended (refused, rolled back) before this resolves
        await b.stop();
        process.stdout.write(
          `[fete] paused worker: A's handler returned with ctx.signal ${returned.aborted ? 'aborted (its heartbeat saw the lease lost first)' : 'not aborted (the completion itself was refused by the lease token)'}\n`,
        );

        expect(await rows(`SELECT event_id, pid, attempt FROM "${schema}".starts`)).toEqual([{ event_id: id, pid: a.pid, attempt: 1 }]);
        expect(await ledgerOf()).toEqual([{ event_id: id, pid: b.pid, attempt: 2 }]);
        expect((await web.stats()).listeners.find((l) => l.name === 'ledger')).toMatchObject({ pending: 0, running: 0, retrying: 0, dead: 0 });
        expect(await web.deadLetters()).toEqual([]);
      } finally {
        await web.stop();
      }
    },
  );

  it('on PGlite: a paused owner keeps its directory (a second opener gets STORE_LOCKED), and after SIGCONT the delivery completes once', { timeout: 120_000 }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'fete-paused-'));
    children.cleanup(async () => rmSync(root, { recursive: true, force: true }));
    const dir = join(root, 'data');
    // PGlite defaults: no rescuer (the one process owning the store re-offers at start).
    const a = spawnChild({ store: { pglite: dir }, schema: 'fete', mode: 'gated', emit: 1, worker: { leaseMs: 1000, heartbeatMs: 150, pollIntervalMs: 50 }, concurrency: 1 });
    await a.waitFor('started');
    a.proc.kill('SIGSTOP');
    await expect(createFete({ topics, store: { pglite: dir } })).rejects.toMatchObject({
      code: 'STORE_LOCKED',
      message: expect.stringContaining(`in use by process ${a.pid}`),
    });
    await sleep(1500); // past A's lease, while it is stopped
    a.proc.kill('SIGCONT');
    a.proc.kill('SIGUSR2');
    await a.waitFor('returned');
    await waitFor(() => (a.last('progress')?.ledger ?? 0) > 0 && a.last('progress'), { ...WAIT, what: 'the ledger row to commit' });
    await a.stop();

    const fete = await createFete({ topics, store: { pglite: dir } });
    try {
      const ledger = await fete.transaction((tx) => tx.query('SELECT event_id, pid, attempt FROM fete.ledger'));
      expect(ledger.rows).toEqual([{ event_id: eventId(0), pid: a.pid, attempt: 1 }]);
      expect((await fete.stats()).listeners.find((l) => l.name === 'ledger')).toMatchObject({ pending: 0, running: 0, retrying: 0, dead: 0 });
    } finally {
      await fete.stop();
    }
  });
});
