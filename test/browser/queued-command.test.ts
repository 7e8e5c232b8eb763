// A command queued in the IndexedDB outbox of real Chromium while offline survives a reload, runs
// once when the network is back, and its result is readable by command id on the reloaded page.
import { createServer, type Server as HttpServer } from 'node:http';
import express from 'express';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFete, type FanoutHandle, type Fete } from '../../server/index.js';
import { browserSkipReason, launchChromium } from '../support/browser.js';
import { topics, type Topics } from './support/catalogue.js';
import { commands } from './support/command-catalogue.js';
import type * as CommandPage from './support/command-page.js';
import { pageRoutes } from './support/page-server.js';
import { cacheForOffline, harnessReady, openPage, run } from './support/pages.js';
import { closeHttp, listen } from '../support/http-server.js';

const skip = browserSkipReason();
if (skip) process.stdout.write(`browser tests skipped: ${skip}\n`);

type H = typeof CommandPage;

describe.skipIf(skip)('a queued command in Chromium', () => {
  let browser: Browser;
  let fete: Fete<Topics>;
  let http: HttpServer;
  let fanout: FanoutHandle;
  let url: string;
  const ran: string[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
    fete = await createFete({ topics, store: 'memory', security: { auth: 'anonymous', authorize: { command: () => true } } });
    fete.handle(commands.place, (input) => {
      ran.push(input.sku);
      return { number: 100 + ran.length, at: new Date(Date.UTC(2026, 0, ran.length)) };
    });
    await fete.start();
    const app = express();
    app.use(await pageRoutes('test/browser/support/command-page.ts'));
    http = createServer(app);
    // A quick heartbeat: the page notices the lost network in about a second.
    fanout = fete.attach(http, { serverOptions: { pingInterval: 1000, pingTimeout: 1000 } });
    // localhost, not 127.0.0.1: the page's origin must be a secure context (IndexedDB, Web Locks).
    url = (await listen(http)).replace('127.0.0.1', 'localhost');
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await fete?.stop();
    if (http) await closeHttp(http);
  });

  it('a command queued offline survives a reload, completes once after reconnecting, and its result is read by id', async () => {
    const context = await browser.newContext();
    try {
      const { page, errors } = await openPage(context, url);
      await cacheForOffline(page);
      await run<void, undefined, H>(page, (h) => h.open());
      await page.waitForFunction(() => (window as unknown as { harness: H }).harness.status().connected, undefined, { timeout: 60_000 });

      await context.setOffline(true);
      await page.waitForFunction(() => !(window as unknown as { harness: H }).harness.status().connected, undefined, { timeout: 60_000 });
      await expect.poll(() => fanout.stats().sockets, { timeout: 30_000 }).toBe(0);
      const id = await run<string, undefined, H>(page, (h) => h.queuePlace('tea'));
      expect(await run<{ pending: number }, undefined, H>(page, (h) => h.status())).toMatchObject({ connected: false, pending: 1 });

      await page.reload(); // offline: served by the service worker's cache
      await harnessReady(page);
      await run<void, undefined, H>(page, (h) => h.open());
      await page.waitForFunction(() => (window as unknown as { harness: H }).harness.status().pending === 1, undefined, { timeout: 60_000 });
      expect(ran).toEqual([]);

      await context.setOffline(false);
      const out = await run<{ number: number; at: string; isDate: boolean }, string, H>(page, (h, cid) => h.result(cid), id);
      expect(out).toEqual({ number: 101, at: new Date(Date.UTC(2026, 0, 1)).toISOString(), isDate: true });
      await page.waitForFunction(() => (window as unknown as { harness: H }).harness.status().pending === 0, undefined, { timeout: 60_000 });
      // Read again after another reload: the outcome is kept by command id, and nothing ran twice.
      await page.reload();
      await harnessReady(page);
      await run<void, undefined, H>(page, (h) => h.open());
      const again = await run<{ number: number; at: string; isDate: boolean }, string, H>(page, (h, cid) => h.result(cid), id);
      expect(again).toEqual(out);
      expect(ran).toEqual(['tea']);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 180_000);
});
