// The playground server: one Express app with fete's middleware under /fete (HTTP emit, SSE,
// commands and queries, health, metrics, inspector), Socket.IO fanout on the same HTTP server, the
// orders command and query, the durable fulfilment listener, and the page: Vite's dev middleware (hot reload) or the files `vite build` wrote.
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { createFete, type Authorize, type StoreOption } from 'fete/server';
import { commands, topics } from '../shared/catalog.js';
import { createFulfilmentTable, listFulfilments, registerFulfilment } from './fulfilment.js';
import { createOrdersTable, registerOrders } from './orders.js';

export interface PlaygroundOptions {
  /** @default 3000; 0 picks a free port */
  port?: number;
  /** Interface to listen on. @default every interface, as Node's listen() */
  host?: string;
  /** @default PGlite in ./.fete/data */
  store?: StoreOption;
  /** Vite's dev middleware with hot reload instead of the built files. @default false */
  dev?: boolean;
}

export interface Playground {
  url: string;
  http: Server;
  close(): Promise<void>;
}

const repo = fileURLToPath(new URL('../..', import.meta.url));
const built = fileURLToPath(new URL('../../dist/playground', import.meta.url));

// Security, said out loud. The playground is a local demo with no users: `auth: 'anonymous'` lets
// every visitor in (without it fete refuses every caller). Browsers emit nothing (no `emit` hook:
// the door stays closed); they place orders with the `orders.place` command and list them with
// the `orders.list` query, the two calls allowed here. Anyone may subscribe, and receives only
// what the catalogue exposes (orders' status, and the orders themselves, declared `expose:
// true`). A real app gives `auth` (and `tenant`) and looks at the principal in these hooks.
const authorize: Authorize = {
  command: (_principal, name) => name === commands.placeOrder.name || name === commands.listOrders.name,
  subscribe: () => true,
};

export async function startPlayground(options: PlaygroundOptions = {}): Promise<Playground> {
  const fete = await createFete({
    topics,
    security: { auth: 'anonymous', authorize },
    ...(options.store === undefined ? {} : { store: options.store }),
  });
  await createFulfilmentTable(fete);
  await createOrdersTable(fete);
  registerFulfilment(fete);
  registerOrders(fete);

  const app = express();
  // The inspector panel is part of the demo, so it is open to the (anonymous) visitor, stacks
  // included (`reveal`: the visitor is the developer on their own machine); metrics stay off. In a
  // real app: `inspector: { authorize: (user) => user.isOps, reveal: (user) => user.isOps }`.
  const router = fete.express({ inspector: { authorize: () => true, reveal: () => true } });
  app.use('/fete', router);
  app.get('/api/fulfilments', async (_req, res) => {
    res.json({ fulfilments: await listFulfilments(fete) });
  });

  const http = createServer(app);
  const fanout = fete.attach(http);

  let closeVite = async () => {};
  if (options.dev) {
    const { createServer: createVite } = await import('vite');
    const vite = await createVite({
      configFile: `${repo}vite.config.ts`,
      server: { middlewareMode: true, hmr: { server: http } },
      appType: 'spa',
    });
    app.use(vite.middlewares);
    closeVite = () => vite.close();
  } else {
    if (!existsSync(`${built}/index.html`)) throw new Error(`the playground is not built: run \`npm start\` (it builds ${built})`);
    app.use(express.static(built, { index: 'index.html' }));
  }

  await fete.start();
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 3000, options.host, () => resolve());
  });
  const { port } = http.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    url: `http://localhost:${port}`,
    http,
    close: () =>
      (closing ??= (async () => {
        router.close();
        await fanout.close();
        await closeVite();
        await new Promise<void>((resolve) => http.close(() => resolve()));
        await fete.stop({ drain: false });
      })()),
  };
}
