// A fete process on a PGlite data directory with its HTTP routes, driven by the store-failure test
// over IPC: `emit` answers with the outcome (code, retryable, message), `health` with GET /health.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createFete } from '../../server/index.js';
import { topics } from '../store/suite/harness.js';

type In = { type: 'emit'; orderId: string } | { type: 'sql'; sql: string } | { type: 'health' } | { type: 'stop' };

const send = (m: object) => process.send!(m);
const [dir] = process.argv.slice(2);
try {
  const fete = await createFete({ topics, store: { pglite: dir! } });
  await fete.start(); // /health answers 503 'not started' before start() in a worker process
  const app = express();
  app.use('/fete', fete.express());
  const server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fete`;
  process.on('message', async (m: In) => {
    if (m.type === 'emit') {
      try {
        const r = await fete.emit(topics.orderPlaced, { orderId: m.orderId, total: 1 });
        send({ type: 'emitted', ok: true, seq: r.seq });
      } catch (err) {
        const e = err as { code?: string; retryable?: boolean; message: string };
        send({ type: 'emitted', ok: false, code: e.code, retryable: e.retryable, message: e.message });
      }
    } else if (m.type === 'sql') {
      try {
        await fete.transaction((tx) => tx.query(m.sql));
        send({ type: 'done', ok: true });
      } catch (err) {
        send({ type: 'done', ok: false, message: (err as Error).message });
      }
    } else if (m.type === 'health') {
      const res = await fetch(`${url}/health`);
      send({ type: 'health', status: res.status, body: await res.json() });
    } else {
      await fete.stop({ drain: false });
      server.close();
      process.exit(0);
    }
  });
  send({ type: 'ready', url });
} catch (err) {
  send({ type: 'error', message: (err as Error).stack ?? String(err) });
}
