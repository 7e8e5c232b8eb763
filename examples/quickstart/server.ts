// server.ts: Express + fete on one HTTP server. Run it with main.ts; tests call startServer().
import { createServer } from 'node:http';
import express from 'express';
import { createFete, type StoreOption } from 'fete/server';
import { topics } from './topics.js';

interface User {
  id: string;
}
// Replace with your session or JWT check. Returning undefined refuses: 401 over HTTP,
// UNAUTHORIZED on the socket handshake.
const users: Record<string, User> = { 'token-alice': { id: 'alice' } };
const userOf = (token: unknown): User | undefined => (typeof token === 'string' ? users[token] : undefined);

export async function startServer(port = 3000, store: StoreOption = { pglite: './.fete/data' }) {
  const fete = await createFete({
    topics,
    store, // 'postgres://…' in production
    // One security config for every door (Socket.IO, HTTP emit, SSE, inspector, metrics). `token` is
    // the socket client's `auth: { token }` or an HTTP `Authorization: Bearer <token>` header.
    security: {
      auth: ({ credentials }) => userOf(credentials.token),
      // Browsers may emit only orderCreated; everyone signed in may subscribe (to exposed topics).
      authorize: { emit: (_user, topic) => topic.name === topics.orderCreated.name },
    },
  });

  // The listener's table lives in fete's store, so its writes commit with the delivery (ctx.tx).
  await fete.transaction(async (tx) => {
    await tx.query('CREATE TABLE IF NOT EXISTS charges (order_id text PRIMARY KEY, charged_at timestamptz NOT NULL DEFAULT now())');
  });
  fete.on(topics.orderCreated, 'charge-card', async (order, ctx) => {
    await ctx.tx.query('INSERT INTO charges (order_id) VALUES ($1)', [order.orderId]);
    await ctx.emit(topics.orderStatus, { orderId: order.orderId, status: 'paid' });
  }, { retries: 5, timeoutMs: 10_000 }); // both writes commit with the completion, once

  const app = express();
  // POST /fete/emit, GET /fete/stream (SSE), /fete/health (inspector and metrics: off unless enabled)
  app.use('/fete', fete.express());
  const http = createServer(app);
  fete.attach(http); // Socket.IO on /fete
  await fete.start(); // runs the durable listeners in this process: without it nothing is handled
  await new Promise<void>((resolve) => http.listen(port, resolve));

  return {
    fete,
    http,
    /** Stops cleanly: sockets first, then running attempts drain, then the store closes. Exiting
     * without it makes PGlite recover at the next start, as after a crash. */
    async stop() {
      await fete.stop();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}
