// SSE streams ride the node's one live tail: with two fetes on one PostgreSQL schema, node A
// appending and node B serving SSE streams, the log reads B makes per remote commit do not grow
// with the number of streams (before: one read per stream per commit), and over the NATS bus B
// reads the log not at all in steady state (A's events come over NATS). Skipped (with the reason
// printed) without PostgreSQL or NATS outside CI.
import { afterAll, describe, expect, it } from 'vitest';
import { dropSchemasAt, freshSchema, postgresAvailability } from '../support/postgres.js';
import { natsAvailability } from './nats.js';
import { nodePair, readsPerCommit } from './sse-node-pair.js';

const pgAvail = await postgresAvailability();
const natsAvail = await natsAvailability();
if (pgAvail.skipReason) console.log(`skipping the SSE read-count tests: ${pgAvail.skipReason}`);
const busSkip = pgAvail.skipReason ?? natsAvail.skipReason;
if (busSkip && !pgAvail.skipReason) console.log(`skipping the SSE over NATS read-count test: ${busSkip}`);

const schemas: string[] = [];
afterAll(async () => {
  if (!pgAvail.url) return;
  await dropSchemasAt(pgAvail.url, schemas);
});

const COMMITS = 10;

describe.skipIf(pgAvail.skipReason !== undefined)('SSE streams of a node on PostgreSQL', () => {
  it("the log reads a node makes per remote commit do not grow with its SSE streams", async () => {
    const schema = freshSchema('ssereads');
    schemas.push(schema);
    const pair = await nodePair(pgAvail.url!, schema);
    try {
      const one = await readsPerCommit(pair, 1, COMMITS);
      const many = await readsPerCommit(pair, 25, COMMITS);
      console.log(`log reads on node B for ${COMMITS} remote commits: 1 stream ${one.reads}, 25 streams ${many.reads}`);
      // One tail reads each remote commit (a NOTIFY) once, however many streams it routes to; one
      // follow() per stream read it 25 times (250 reads).
      expect(one.reads).toBeGreaterThan(0);
      expect(one.reads).toBeLessThanOrEqual(2 * COMMITS);
      expect(many.reads).toBeLessThanOrEqual(2 * COMMITS);
    } finally {
      await pair.close();
    }
  });
});

describe.skipIf(busSkip !== undefined)('SSE streams of a node on the NATS bus', () => {
  it("get another node's events with no log read in steady state", async () => {
    const schema = freshSchema('ssebus');
    schemas.push(schema);
    const pair = await nodePair(pgAvail.url!, schema, natsAvail.url!);
    try {
      // The node's tail (and its view of the bus) is made at the first stream.
      expect(pair.b.fanoutStats().bus).toBeUndefined();
      const r = await readsPerCommit(pair, 10, COMMITS);
      const after = pair.b.fanoutStats().bus!;
      console.log(`log reads on node B over the bus for ${COMMITS} remote commits to 10 streams: ${r.reads}`);
      expect(r.reads).toBe(0);
      // Each event came over NATS once for the node, not once per stream.
      expect(after.received).toBe(COMMITS + 1);
      expect(after.subscribed).toBe(1);
    } finally {
      await pair.close();
    }
  });
});
