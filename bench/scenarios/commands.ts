// Command round trips from Socket.IO clients against a hand-written Socket.IO `emitWithAck`
// handler, in one run (tRPC is not installed in this tree; the issue allows this anchor).
// - fete: `client.execute(noop, { n })` from fete's client (input validated, encoded, id kept),
//   answered by `fete.handle` on PostgreSQL (FETE_TEST_DATABASE_URL, else in-memory PGlite): each
//   call is one store transaction that claims its command id and records the result durably.
// - anchor: `socket.emitWithAck('noop', { n })` to `socket.on('noop', (p, ack) => ack(p))`.
// - anchor + insert: the same handler writing one row (id, result) to the same database first:
//   the least a durable exactly-once record costs, for scale.
// Latency: one client, sequential calls, p50/p99 of the round trip. Throughput: 50 clients each
// calling sequentially for a fixed time, calls per second. Clients and server share this process
// (the same for all three). Implementations run in rotated order per round; each one's best round
// is reported (lowest p99 with that round's p50; highest throughput), every round in the settings.
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { Server as IoServer } from 'socket.io';
import { io as ioClient, type Socket } from 'socket.io-client';
import { z } from 'zod';
import { createClient, socketTransport, type Client } from '../../client/index.js';
import { createFete, type Fete } from '../../server/index.js';
import { defineCommand, defineTopics } from '../../shared/index.js';
import { type Figure, fmt, lowerIsBetter, higherIsBetter, percentile, type Scenario } from '../harness.js';

const LATENCY_CALLS = Number(process.env.FETE_BENCH_COMMANDS_CALLS ?? 2000);
const CONCURRENCY = Number(process.env.FETE_BENCH_COMMANDS_CLIENTS ?? 50);
const SECONDS = Number(process.env.FETE_BENCH_COMMANDS_SECONDS ?? 5);
const ROUNDS = Number(process.env.FETE_BENCH_ROUNDS ?? 3);
const WARMUP = 200;

const noop = defineCommand('bench.noop', { input: z.object({ n: z.number() }), output: z.object({ n: z.number() }) });
const topics = defineTopics({});

type Caller = (n: number) => Promise<unknown>;
interface Impl {
  key: 'fete' | 'anchor' | 'anchor-insert';
  name: string;
  /** Opens `count` connected callers. */
  callers(count: number): Promise<Caller[]>;
  closeCallers(): Promise<void>;
}

function log(line: string): void {
  process.stdout.write(`  [commands] ${line}\n`);
}

async function listen(http: HttpServer): Promise<string> {
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
}

async function closeHttp(http: HttpServer): Promise<void> {
  http.closeAllConnections();
  await new Promise<void>((resolve) => http.close(() => resolve()));
}

async function latency(call: Caller): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < WARMUP; i++) await call(i);
  const times: number[] = [];
  for (let i = 0; i < LATENCY_CALLS; i++) {
    const t = performance.now();
    await call(i);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

async function throughput(callers: Caller[]): Promise<number> {
  await Promise.all(callers.map(async (c) => { for (let i = 0; i < 20; i++) await c(i); }));
  let done = 0;
  const end = performance.now() + SECONDS * 1000;
  const start = performance.now();
  await Promise.all(
    callers.map(async (c) => {
      let i = 0;
      while (performance.now() < end) {
        await c(i++);
        done++;
      }
    }),
  );
  return (done / (performance.now() - start)) * 1000;
}

const scenario: Scenario = {
  name: 'commands',
  description: `no-op command round trip (p50/p99, 1 client) and calls/s (${CONCURRENCY} clients): fete execute vs Socket.IO emitWithAck`,
  async run() {
    const url = process.env.FETE_TEST_DATABASE_URL;
    const schema = `bench_cmd_${process.pid}`;
    const fete: Fete<typeof topics> = await createFete({ topics, store: url ?? 'memory', schema, security: { auth: 'anonymous', authorize: { command: () => true } } });
    fete.handle(noop, (input) => ({ n: input.n }));
    await fete.start();
    const feteHttp = createServer();
    fete.attach(feteHttp);
    const feteUrl = await listen(feteHttp);

    // The anchors: one Socket.IO server, two handlers.
    const anchorHttp = createServer();
    const ioServer = new IoServer(anchorHttp, { transports: ['websocket'] });
    const pool = url ? new pg.Pool({ connectionString: url, max: 10 }) : undefined;
    if (pool) await pool.query(`CREATE TABLE IF NOT EXISTS "${schema}".anchor_results (id text PRIMARY KEY, result text NOT NULL)`);
    let seq = 0;
    ioServer.on('connection', (socket) => {
      socket.on('noop', (p: { n: number }, ack: (r: unknown) => void) => ack({ n: p.n }));
      socket.on('noop-insert', async (p: { n: number }, ack: (r: unknown) => void) => {
        await pool!.query(`INSERT INTO "${schema}".anchor_results (id, result) VALUES ($1, $2)`, [`${process.pid}-${seq++}`, JSON.stringify(p)]);
        ack({ n: p.n });
      });
    });
    const anchorUrl = await listen(anchorHttp);

    const feteClients: Client[] = [];
    const sockets: Socket[] = [];
    const socketCallers = async (event: string, count: number): Promise<Caller[]> => {
      const opened = Array.from({ length: count }, () => ioClient(anchorUrl, { forceNew: true, transports: ['websocket'] }));
      sockets.push(...opened);
      await Promise.all(opened.map((s) => new Promise<void>((r) => (s.connected ? r() : s.once('connect', () => r())))));
      return opened.map((s) => (n: number) => s.emitWithAck(event, { n }));
    };
    const impls: Impl[] = [
      {
        key: 'fete',
        name: `fete execute (${url ? 'PostgreSQL' : 'PGlite memory'})`,
        async callers(count) {
          const opened = Array.from({ length: count }, () =>
            createClient({ url: feteUrl, topics, outbox: 'memory', locks: null, broadcastChannel: null, transport: socketTransport({ transports: ['websocket'] }) }),
          );
          feteClients.push(...opened);
          await Promise.all(opened.map(async (c) => { while (!c.status.connected) await new Promise((r) => setTimeout(r, 5)); }));
          return opened.map((c) => (n: number) => c.execute(noop, { n }));
        },
        async closeCallers() {
          await Promise.all(feteClients.splice(0).map((c) => c.close()));
        },
      },
      {
        key: 'anchor',
        name: 'Socket.IO emitWithAck',
        callers: (count) => socketCallers('noop', count),
        async closeCallers() {
          for (const s of sockets.splice(0)) s.disconnect();
        },
      },
      ...(pool
        ? [
            {
              key: 'anchor-insert' as const,
              name: 'Socket.IO emitWithAck + one INSERT',
              callers: (count: number) => socketCallers('noop-insert', count),
              async closeCallers() {
                for (const s of sockets.splice(0)) s.disconnect();
              },
            },
          ]
        : []),
    ];

    const rounds: Record<string, Array<{ p50: number; p99: number; rps: number }>> = {};
    try {
      for (let round = 0; round < ROUNDS; round++) {
        for (let i = 0; i < impls.length; i++) {
          const impl = impls[(i + round) % impls.length]!;
          const [one] = await impl.callers(1);
          const lat = await latency(one!);
          await impl.closeCallers();
          const many = await impl.callers(CONCURRENCY);
          const rps = await throughput(many);
          await impl.closeCallers();
          (rounds[impl.key] ??= []).push({ ...lat, rps });
          log(`round ${round + 1} ${impl.key}: p50 ${lat.p50.toFixed(3)} ms, p99 ${lat.p99.toFixed(3)} ms, ${fmt(rps)} calls/s at ${CONCURRENCY} clients`);
        }
      }
    } finally {
      for (const impl of impls) await impl.closeCallers();
      ioServer.close();
      await closeHttp(anchorHttp).catch(() => undefined);
      await fete.stop();
      await closeHttp(feteHttp).catch(() => undefined);
      if (url) {
        const admin = new pg.Pool({ connectionString: url, max: 1 });
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await admin.end();
      }
      await pool?.end();
    }
    const bestLatency = (key: string) => rounds[key]!.reduce((a, b) => (b.p99 < a.p99 ? b : a));
    const bestRps = (key: string) => Math.max(...rounds[key]!.map((r) => r.rps));
    const figures: Figure[] = [];
    for (const impl of impls) {
      const l = bestLatency(impl.key);
      figures.push(
        { name: 'round trip p50, 1 client, sequential', impl: impl.name, value: l.p50, unit: 'ms' },
        { name: 'round trip p99, 1 client, sequential', impl: impl.name, value: l.p99, unit: 'ms' },
        { name: `calls/s, ${CONCURRENCY} clients`, impl: impl.name, value: bestRps(impl.key), unit: 'calls/s' },
      );
    }
    const f = bestLatency('fete');
    const a = bestLatency('anchor');
    const comparisons = [
      lowerIsBetter('round trip p99', f.p99, a.p99, 'Socket.IO emitWithAck', 1.2),
      lowerIsBetter('round trip p50', f.p50, a.p50, 'Socket.IO emitWithAck'),
      higherIsBetter(`calls/s at ${CONCURRENCY} clients`, bestRps('fete'), bestRps('anchor'), 'Socket.IO emitWithAck'),
    ];
    if (rounds['anchor-insert']) {
      const ai = bestLatency('anchor-insert');
      comparisons.push(
        lowerIsBetter('round trip p99', f.p99, ai.p99, 'emitWithAck + one INSERT'),
        higherIsBetter(`calls/s at ${CONCURRENCY} clients`, bestRps('fete'), bestRps('anchor-insert'), 'emitWithAck + one INSERT'),
      );
    }
    return {
      settings: { store: url ? 'postgres' : 'pglite-memory', latencyCalls: LATENCY_CALLS, warmup: WARMUP, clients: CONCURRENCY, seconds: SECONDS, rounds: ROUNDS, all: rounds },
      figures,
      comparisons,
      notes: [
        'fete: every call claims (tenant, id) in its own autocommitted statement (owner token and lease: the handler then holds no store connection until its first ctx.tx, so a slow handler cannot starve the pool), then records the result durably in the transaction of its writes and emits (`BEGIN; UPDATE result ... ; COMMIT` in one round trip on PostgreSQL: pg-driver.ts sends BEGIN with the first statement and a deferred statement with COMMIT), plus input/output validation (zod) and superjson on both sides: 2 round trips and 2 durable commits per call.',
        'Two round trips is the floor while the handler never runs twice: the claim must be taken before the handler runs, and the result committed after it. "emitWithAck + one INSERT" is 1 round trip with one commit, so fete is expected at about that anchor plus one round trip and one commit.',
        'The 1.2x target against the bare emitWithAck anchor (no I/O) cannot be met by any call that commits to a database first: compare the anchor with "emitWithAck + one INSERT" in the same run.',
        'The anchor does no I/O at all; "emitWithAck + one INSERT" writes one autocommitted row per call on the same database, the least a durable result record costs.',
        'Clients and servers share one Node process on a 2-core machine shared with other work: absolute numbers are noisy, ratios within one run are the point.',
      ],
    };
  },
};

export default scenario;
