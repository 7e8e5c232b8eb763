// Role forwarding on PostgreSQL between two OS processes: a 'web' process receives a command whose
// owner runs only in the 'worker' role, forwards it through the store, and returns the reply of
// the worker process (worker-child.ts). Without a worker it fails NO_HANDLER and nothing runs later.
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFete, type Fete } from '../../server/index.js';
import { isFeteError, uuidv7 } from '../../shared/index.js';
import { IpcChild } from '../support/ipc-child.js';
import { dropSchemas, freshSchema, postgresAvailability } from '../support/postgres.js';
import { topics, type Topics } from '../store/suite/harness.js';
import { commands } from './commands-fixtures.js';
import type { WorkerIn, WorkerOut } from './worker-child.js';

const availability = await postgresAvailability();
if (availability.skipReason) process.stdout.write(`[fete] skipping the role-forwarding tests: ${availability.skipReason}\n`);

const script = fileURLToPath(new URL('./worker-child.ts', import.meta.url));

describe.skipIf(availability.skipReason !== undefined)('role forwarding on PostgreSQL', () => {
  const schema = freshSchema('fwd');
  let pool: pg.Pool;
  let web: Fete<Topics>;
  let ran = false;

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: availability.url! });
    web = await createFete({ topics, store: availability.url!, schema, roles: ['web'], security: { tenant: (p: { tenant?: string } | undefined) => p?.tenant }, commands: { forwardTimeoutMs: 1500, pollIntervalMs: 100 } });
    await pool.query(`CREATE TABLE "${schema}".forwarded_calls (id text PRIMARY KEY, pid integer NOT NULL)`);
    // The same code registers the owner in every process; only processes running 'worker' run it.
    web.handle(
      commands.place,
      () => {
        ran = true;
        return { orderId: 'web', number: 0, at: new Date() };
      },
      { roles: ['worker'] },
    );
    web.handle(commands.list, () => [], { roles: ['worker'] });
    await web.start();
  }, 60_000);

  afterAll(async () => {
    await web?.stop();
    await dropSchemas(pool, [schema]);
    await pool.end();
  });

  it('with no process running the role, a command fails NO_HANDLER after the timeout and is not run later', async () => {
    const id = uuidv7();
    const err = await web.execute(commands.place, { sku: 'tea', qty: 1 }, { id }).catch((e: unknown) => e);
    expect(isFeteError(err, 'NO_HANDLER')).toBe(true);
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".command_requests`);
    expect(rows[0].n).toBe(0);
  });

  it('a command received by a web process runs once in the worker process and its reply comes back', async () => {
    const worker = new IpcChild<WorkerIn, WorkerOut>(script, [availability.url!, schema], { label: 'worker' });
    try {
      await worker.next('ready', 60_000);
      const id = uuidv7();
      const out = await web.execute(commands.place, { sku: 'tea', qty: 4 }, { id, principal: { id: 'ann', tenant: 'acme' } });
      expect(out).toEqual({ orderId: `pid-${worker.proc.pid}`, number: 4, at: new Date(7) });
      // Retried with its id: the recorded result, not a second run.
      const again = await web.execute(commands.place, { sku: 'tea', qty: 4 }, { id, principal: { id: 'ann', tenant: 'acme' } });
      expect(again).toEqual(out);
      const calls = await pool.query(`SELECT pid FROM "${schema}".forwarded_calls`);
      expect(calls.rows).toEqual([{ pid: worker.proc.pid }]);
      const events = await pool.query(`SELECT headers->>'tenant' AS tenant FROM "${schema}".events`);
      expect(events.rows).toEqual([{ tenant: 'acme' }]);
      const left = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".command_requests`);
      expect(left.rows[0].n).toBe(0);
      expect(ran).toBe(false);
      // Queries are forwarded the same way.
      await expect(web.query(commands.list, {})).resolves.toEqual([{ orderId: `pid-${worker.proc.pid}`, sku: 'any' }]);
    } finally {
      worker.send({ type: 'stop' });
      await worker.kill(10_000);
    }
  }, 120_000);
});
