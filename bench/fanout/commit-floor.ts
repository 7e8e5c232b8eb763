// The floor under any durable append on this machine: a one-row INSERT in autocommit (one round
// trip, one WAL flush at commit) on the same PostgreSQL, at the fanout benchmark's fixed rate. fete's
// append is this plus its own work (the event row's indexes, deliveries, NOTIFY) and the emit's
// validation; no durable path can send an event sooner than its commit returns.
import pg from 'pg';
import { percentile } from '../harness.js';
import { DATABASE_URL, dropSchema, freshSchema } from '../durable/common.js';
import type { Percentiles } from './common.js';

export async function commitFloor(perSecond: number, n: number): Promise<Percentiles> {
  const schema = freshSchema('floor');
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA "${schema}"; CREATE TABLE "${schema}".t (seq bigserial PRIMARY KEY, payload text NOT NULL)`);
    const insert = { name: 'floor_insert', text: `INSERT INTO "${schema}".t (payload) VALUES ($1)` };
    const took: number[] = [];
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      const wait = start + (i * 1000) / perSecond - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const t0 = performance.now();
      await client.query({ ...insert, values: ['{"orderId":"o-1","status":"shipped"}'] });
      took.push(performance.now() - t0);
    }
    took.sort((a, b) => a - b);
    return { p50: percentile(took, 50), p99: percentile(took, 99) };
  } finally {
    await client.end();
    await dropSchema(schema);
  }
}
