// A real fete server for the browser tests: fete on the given store, its Socket.IO fanout and
// `fete.express()` on one HTTP server that also serves the test page and the client bundle from
// http://localhost:<port> (localhost, not 127.0.0.1: a secure context, so Web Locks exist).
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createFete, type AttachOptions, type Fete, type FanoutHandle, type StoreOption } from '../../../server/index.js';
import { topics, type Topics } from './catalogue.js';
import { pageRoutes } from './page-server.js';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { launchChromium } from '../../support/browser.js';
import { closeHttp } from '../../support/http-server.js';

export interface BrowserTestServer {
  fete: Fete<Topics>;
  fanout: FanoutHandle;
  http: HttpServer;
  port: number;
  /** http://localhost:<port> */
  url: string;
  /** Stops fete (fanout, workers, store) and the HTTP server. */
  close(): Promise<void>;
}

export interface BrowserServerOptions {
  store: StoreOption;
  /** @default an ephemeral port */
  port?: number;
  /** More `fete.attach` options (Socket.IO heartbeat...). Emits are always allowed. */
  attach?: AttachOptions;
  /** Registers listeners (or emits) before the server starts listening. */
  setup?: (fete: Fete<Topics>) => void | Promise<void>;
}

export async function startBrowserServer(options: BrowserServerOptions): Promise<BrowserTestServer> {
  // The test pages have no users: anonymous callers are let in, and may emit.
  const fete = await createFete({ topics, store: options.store, security: { auth: 'anonymous', authorize: { emit: () => true } } });
  await options.setup?.(fete);
  await fete.start();
  const app = express();
  app.use(await pageRoutes('test/browser/support/page.ts'));
  app.use('/fete', fete.express());
  const http = createServer(app);
  const fanout = fete.attach(http, { pollIntervalMs: 50, ...options.attach });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  return {
    fete,
    fanout,
    http,
    port,
    url: `http://localhost:${port}`,
    async close() {
      await fete.stop();
      await closeHttp(http);
    },
  };
}

/** One Chromium and one fete server (on `options`) for a describe block: launched before its
 * tests, closed after. Read `browser` and `server` inside the tests (set once beforeAll ran). */
export function browserWithServer(options: BrowserServerOptions): { readonly browser: Browser; readonly server: BrowserTestServer } {
  const held: { browser?: Browser; server?: BrowserTestServer } = {};
  beforeAll(async () => {
    [held.browser, held.server] = await Promise.all([launchChromium(), startBrowserServer(options)]);
  }, 120_000);
  afterAll(async () => {
    await held.browser?.close();
    await held.server?.close();
  });
  return {
    get browser() {
      return held.browser!;
    },
    get server() {
      return held.server!;
    },
  };
}
