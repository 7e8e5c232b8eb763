// A process's own appends reach its followers through the commit hook, not a read: PostgreSQL
// sends the NOTIFY of an append at its commit, beside the statement's answer, and a process that
// hears its own NOTIFY first must not send its fanout's tail (or any follower) to read the log for
// events the hook hands over a moment later (store-log.ts, #heard). Each such read is a query per
// emit and per follower, on the database and on this process's event loop.
import { createServer } from 'node:http';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFete, type Fete, type FanoutHandle } from '../../server/index.js';
import { defineTopic, defineTopics } from '../../shared/index.js';
import { dropSchemas, freshSchema, postgresAvailability, watchPoolQueries } from '../support/postgres.js';

const availability = await postgresAvailability();
if (availability.skipReason) process.stdout.write(`[fete] skipping the own-appends test: ${availability.skipReason}\n`);

const topics = defineTopics({ status: defineTopic('orders.{orderId}.status', { kind: 'presentation' }) });

describe.skipIf(availability.skipReason !== undefined)('own appends on PostgreSQL', () => {
  const schema = freshSchema('own');
  let pool: pg.Pool;
  let fete: Fete<typeof topics>;
  let fanout: FanoutHandle;
  /** Log reads (the follow() page query) sent by fete's connections. */
  let reads = 0;

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: availability.url!, max: 8 });
    watchPoolQueries(pool, (text) => {
      if (/\be\.hit\b/.test(text)) reads++;
    });
    // A long poll: the only reads left would be the ones a NOTIFY caused.
    fete = await createFete({ topics, store: pool, schema, roles: ['web'], security: { auth: 'anonymous' } });
    fanout = fete.attach(createServer(), { pollIntervalMs: 60_000 });
    await fete.start();
  });

  afterAll(async () => {
    await fete?.stop();
    await dropSchemas(pool, [schema]);
    await pool.end();
  });

  it("the fanout's tail reads nothing for the events this process appended", async () => {
    await fete.emit(topics.status, { orderId: 'warm-up' });
    await new Promise((r) => setTimeout(r, 100));
    reads = 0;
    for (let i = 0; i < 100; i++) await fete.emit(topics.status, { orderId: `o-${i}` });
    // Notices still held or in flight are heard (and would be read for) within this.
    await new Promise((r) => setTimeout(r, 200));
    expect(fanout.stats().tailCursor).toBe(101);
    expect(reads).toBe(0);
  });
});
