// The SSE stream on PostgreSQL, where appends are announced by NOTIFY across connections: events
// emitted concurrently with the stream arrive once each and in seq order. Skipped (with the reason
// printed) without FETE_TEST_DATABASE_URL outside CI, like the other PostgreSQL suites.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFete } from '../../server/index.js';
import { dropSchemas, freshSchema, postgresAvailability } from '../support/postgres.js';
import { openStream, seqOf, startServer, testAuth, topics } from './http-harness.js';

const availability = await postgresAvailability();
if (availability.skipReason) process.stdout.write(`[http postgres] skipped: ${availability.skipReason}\n`);

describe.skipIf(availability.skipReason !== undefined)('GET /stream on PostgreSQL', () => {
  let pool: pg.Pool;
  const schemas: string[] = [];
  beforeAll(() => {
    pool = new pg.Pool({ connectionString: availability.url, max: 6 });
  });
  afterAll(async () => {
    await dropSchemas(pool, schemas);
    await pool.end();
  });

  it('delivers events emitted while streaming once each, in seq order', async () => {
    const schema = freshSchema('http');
    schemas.push(schema);
    const fete = await createFete({ topics, store: pool, schema, security: testAuth });
    const { url } = await startServer(undefined, fete);
    const sse = await openStream(`${url}/stream?pattern=orders.>`);
    await sse.nextRaw();
    const emitted = Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        const seqs: number[] = [];
        for (let i = 0; i < 50; i++) seqs.push((await fete.emit(topics.orderCreated, { orderId: `w${w}-${i}`, total: i })).seq);
        return seqs;
      }),
    );
    const received = (await sse.take(200)).map((m) => seqOf(m));
    const all = (await emitted).flat().sort((a, b) => a - b);
    expect(received).toEqual(all);
  });
});
