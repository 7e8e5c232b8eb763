// The outbox in real Chromium with the network gone: emits made offline survive a reload of the
// page and reach the server exactly once, in emit order, when the network comes back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { browserSkipReason, launchChromium } from '../support/browser.js';
import { topics } from './support/catalogue.js';
import { startBrowserServer, type BrowserTestServer } from './support/fete-server.js';
import { cacheForOffline, harnessReady, openPage, run, waitFor } from './support/pages.js';

const skip = browserSkipReason();
if (skip) process.stdout.write(`browser tests skipped: ${skip}\n`);

describe.skipIf(skip)('outbox offline, across a reload', () => {
  let browser: Browser;
  let server: BrowserTestServer;
  /** What the durable listener handled, in the order it ran. */
  const handled: number[] = [];

  beforeAll(async () => {
    [browser, server] = await Promise.all([
      launchChromium(),
      startBrowserServer({
        store: 'memory',
        // A quick heartbeat: the client notices the lost network in about a second, not 45.
        attach: { serverOptions: { pingInterval: 1000, pingTimeout: 1000 } },
        setup: (fete) => fete.on(topics.mark, 'recorder', (mark) => void handled.push(mark.n)),
      }),
    ]);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function marksInLog(run: string) {
    const { events } = await server.fete.log.read(0, { pattern: `marks.${run}`, limit: 10_000 });
    return events;
  }

  it('a page emits 500 events while offline, is reloaded in the middle, comes back online, and the server has each event exactly once, in emit order', async () => {
    const context = await browser.newContext();
    try {
      const { page, errors } = await openPage(context, server.url);
      await cacheForOffline(page);
      await run(page, (h) => h.open('before-reload'));
      await waitFor(page, (h) => h.status().connected && h.status().leader);

      await context.setOffline(true);
      // The socket really drops: the client's heartbeat fails, and the server sees it go.
      await waitFor(page, (h) => !h.status().connected);
      await expect.poll(() => server.fanout.stats().sockets, { timeout: 30_000 }).toBe(0);

      // Each emit resolves once its record is committed to IndexedDB: the reload loses none.
      const first = await run(page, (h) => h.emitMarks('offline', 'before-reload', 0, 250));
      expect(await run(page, (h) => h.status())).toMatchObject({ connected: false, pending: 250 });

      await page.reload(); // offline: the page comes from the service worker's cache
      await harnessReady(page);
      await run(page, (h) => h.open('after-reload'));
      await waitFor(page, (h) => h.status().pending === 250);
      const second = await run(page, (h) => h.emitMarks('offline', 'after-reload', 250, 250));
      expect(await run(page, (h) => h.status())).toMatchObject({ connected: false, pending: 500 });
      expect(await marksInLog('offline')).toEqual([]);

      await context.setOffline(false);
      await waitFor(page, (h) => h.status().connected && h.status().pending === 0);
      // The receipts of this page's emits settle with the server's seqs, in emit order.
      const seqs = await run(page, (h) => h.delivered());
      expect(seqs).toHaveLength(250);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));

      const events = await marksInLog('offline');
      expect(events.map((e) => e.id)).toEqual([...first, ...second]);
      expect(events.map((e) => (e.payload as { n: number }).n)).toEqual(Array.from({ length: 500 }, (_, i) => i));
      expect(events.slice(-250).map((e) => e.seq)).toEqual(seqs);

      // The durable listener ran once per event.
      await expect.poll(() => handled.length, { timeout: 30_000 }).toBe(500);
      expect([...handled].sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i));
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 180_000);
});
