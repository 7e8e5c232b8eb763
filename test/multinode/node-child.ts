// One fete process of the multi-node test, on a shared PostgreSQL schema and the NATS bus: a web
// node (Socket.IO on an ephemeral port, reported in `ready`) or a worker (a durable listener that
// answers every placed order with a status event through `ctx.emit`). Both emit ticks on command.
// Started with `node --import tsx node-child.ts '<config json>'` over IPC (test/support/ipc-child.ts).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createFete } from '../../server/index.js';
import { topics } from '../realtime/topics.js';

export interface NodeConfig {
  url: string;
  schema: string;
  nats: string;
  role: 'web' | 'worker';
}

export type NodeCommand =
  /** Emit ticks n = from .. from+count-1, `concurrency` emits in flight, `pauseMs` between the
   * emits of one lane; answered with the seqs appended. */
  | { type: 'emit'; from: number; count: number; concurrency: number; pauseMs: number }
  | { type: 'place'; orderId: string }
  | { type: 'stop' };

export type NodeReply =
  | { type: 'ready'; port: number; pid: number }
  | { type: 'emitted'; seqs: number[] }
  | { type: 'placed'; seq: number }
  | { type: 'error'; message: string };

const config = JSON.parse(process.argv[2]!) as NodeConfig;
const say = (m: NodeReply) => process.send!(m);
process.on('unhandledRejection', (err) => {
  say({ type: 'error', message: String((err as Error)?.stack ?? err) });
  process.exit(1);
});

const fete = await createFete({
  topics,
  store: config.url,
  schema: config.schema,
  roles: [config.role],
  security: { auth: 'anonymous' },
  bus: { nats: config.nats },
  worker: { pollIntervalMs: 200 },
});
let port = 0;
const http = createServer();
if (config.role === 'worker') {
  fete.on(topics.orderPlaced, 'status-after-placed', async (e, ctx) => {
    await ctx.emit(topics.orderStatus, { orderId: e.orderId, status: 'seen' });
  });
} else {
  // A long poll: whatever reaches the sockets came over NATS or was read on a bus signal.
  fete.attach(http, { pollIntervalMs: 60_000 });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  port = (http.address() as AddressInfo).port;
}
await fete.start();
say({ type: 'ready', port, pid: process.pid });

async function emit(from: number, count: number, concurrency: number, pauseMs: number): Promise<number[]> {
  const seqs: number[] = [];
  let next = from;
  const end = from + count;
  const lane = async () => {
    while (next < end) {
      const n = next++;
      seqs.push((await fete.emit(topics.tick, { n })).seq);
      if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return seqs;
}

process.on('message', (m: NodeCommand) => {
  if (m.type === 'emit') void emit(m.from, m.count, m.concurrency, m.pauseMs).then((seqs) => say({ type: 'emitted', seqs }));
  else if (m.type === 'place') void fete.emit(topics.orderPlaced, { orderId: m.orderId, total: 1 }).then((r) => say({ type: 'placed', seq: r.seq }));
  else if (m.type === 'stop')
    void fete.stop().finally(() => {
      http.closeAllConnections();
      http.close(() => process.exit(0));
    });
});
