// Prints the queries and log reads node B makes per remote commit with 1, 10 and 100 SSE streams
// (two fetes on one PostgreSQL schema, node A appending; see test/multinode/sse-node-pair.ts), on
// PostgreSQL NOTIFY alone and, with --bus, over the NATS bus.
//   FETE_TEST_DATABASE_URL=postgres://... [FETE_TEST_NATS_URL=nats://...] npx tsx scripts/sse-reads-per-commit.ts [--bus]
import pg from 'pg';
import { nodePair, readsPerCommit } from '../test/multinode/sse-node-pair.js';

const url = process.env.FETE_TEST_DATABASE_URL;
if (!url) throw new Error('FETE_TEST_DATABASE_URL is not set');
const bus = process.argv.includes('--bus') ? (process.env.FETE_TEST_NATS_URL ?? 'nats://127.0.0.1:4222') : undefined;
const commits = 20;
const schema = `sse_reads_${process.pid}`;
const pair = await nodePair(url, schema, bus);
try {
  console.log(`node B, ${commits} remote commits each awaited on every stream, ${bus ? 'NATS bus' : 'PostgreSQL NOTIFY'}:`);
  for (const n of [1, 10, 100]) {
    const r = await readsPerCommit(pair, n, commits);
    console.log(`  ${String(n).padStart(3)} streams: ${(r.reads / commits).toFixed(2)} log reads/commit, ${(r.queries / commits).toFixed(2)} queries/commit`);
  }
} finally {
  await pair.close();
  const pool = new pg.Pool({ connectionString: url });
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await pool.end();
}
