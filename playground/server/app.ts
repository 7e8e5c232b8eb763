// The playground server: one Express app with fete's middleware under /fete (HTTP emit, SSE,
// commands and queries, health, metrics, inspector), Socket.IO fanout on the same HTTP server, the
// orders command and query, the durable fulfilment listener, and the page: Vite's dev middleware (hot reload) or the files `vite build` wrote.
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { createFete, type Authorize, type StoreOption } from 'fete/server';
import { VISITOR_NAME, commands, topics } from '../shared/catalog.js';
import { startCouriers } from './couriers.js';
import { createFulfilmentTable, listFulfilments, registerFulfilment } from './fulfilment.js';
import { createOrdersTable, registerOrders } from './orders.js';

export interface PlaygroundOptions {
  /** @default 3000; 0 picks a free port */
  port?: number;
  /** Interface to listen on. @default '127.0.0.1': this machine only, since the playground lets
   * every visitor in (`auth: 'anonymous'`), place orders, read the inspector with stacks and retry
   * dead letters. '0.0.0.0' (HOST=0.0.0.0) opens it to the network, e.g. from a container. */
  host?: string;
  /** @default PGlite in ./.fete/data */
  store?: StoreOption;
  /** Vite's dev middleware with hot reload instead of the built files. @default false */
  dev?: boolean;
  /** How often a tracked order's courier moves, in milliseconds. @default 2000 */
  courierEveryMs?: number;
}

export interface Playground {
  url: string;
  http: Server;
  close(): Promise<void>;
}

const repo = fileURLToPath(new URL('../..', import.meta.url));
const built = fileURLToPath(new URL('../../dist/playground', import.meta.url));

// Security, said out loud. The playground is a local demo with no users: `auth` lets every visitor
// in under the name its browser picked (a random one kept in localStorage), unchecked, so that
// presence can tell two browsers apart; a caller without one is 'guest'. `publicId` shows that
// name to the others (presence lists principals by it; without the hook nobody is listed).
// Browsers emit nothing (no `emit` hook: the door stays closed); they place orders with the
// `orders.place` command and list them with the `orders.list` query, the two calls allowed here.
// Anyone may subscribe, and receives only what the catalogue exposes (orders' status, the orders
// themselves, declared `expose: true`, and couriers). A real app authenticates a token in `auth`
// (and gives `tenant`) and looks at the principal in these hooks.
type Visitor = { id: string };
const auth = ({ credentials }: { credentials: Record<string, unknown> }): Visitor => {
  const name = credentials.visitor;
  return { id: typeof name === 'string' && VISITOR_NAME.test(name) ? name : 'guest' };
};
const authorize: Authorize<Visitor> = {
  command: (_principal, name) => name === commands.placeOrder.name || name === commands.listOrders.name,
  subscribe: () => true,
};

export async function startPlayground(options: PlaygroundOptions = {}): Promise<Playground> {
  const fete = await createFete({
    topics,
    security: { auth, authorize, publicId: (visitor) => visitor.id },
    ...(options.store === undefined ? {} : { store: options.store }),
  });
  await createFulfilmentTable(fete);
  await createOrdersTable(fete);
  registerFulfilment(fete);
  registerOrders(fete);
  const couriers = startCouriers(fete, options.courierEveryMs);

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
    http.listen(options.port ?? 3000, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = http.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    url: `http://localhost:${port}`,
    http,
    close: () =>
      (closing ??= (async () => {
        couriers.stop();
        router.close();
        await fanout.close();
        await closeVite();
        await new Promise<void>((resolve) => http.close(() => resolve()));
        await fete.stop({ drain: false });
      })()),
  };
}
