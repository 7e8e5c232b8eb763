// Two tabs of one origin in real Chromium share one IndexedDB outbox: Web Locks elect one leader,
// and only the leader's socket sends emits, for both tabs' entries.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { browserSkipReason, launchChromium } from '../support/browser.js';
import { startBrowserServer, type BrowserTestServer } from './support/fete-server.js';
import { openPage, run, waitFor } from './support/pages.js';

const skip = browserSkipReason();
if (skip) process.stdout.write(`browser tests skipped: ${skip}\n`);

const N = 300;

describe.skipIf(skip)('leader tab', () => {
  let browser: Browser;
  let server: BrowserTestServer;
  /** Per handshake label: the `emit` packets that socket sent, as lists of envelope ids. */
  const packets = new Map<string, string[][]>();
  const connected: string[] = [];

  beforeAll(async () => {
    [browser, server] = await Promise.all([
      launchChromium(),
      // A quick heartbeat, so a tab notices a lost network in about a second.
      startBrowserServer({ store: 'memory', attach: { serverOptions: { pingInterval: 1000, pingTimeout: 1000 } } }),
    ]);
    server.fanout.io.of('/fete').on('connection', (socket) => {
      const label = String(socket.handshake.auth.label);
      connected.push(label);
      socket.use(([event, batch], next) => {
        if (event === 'emit' && Array.isArray(batch)) {
          const list = packets.get(label) ?? [];
          list.push(batch.map((e: string) => (JSON.parse(e) as { json: { id: string } }).json.id));
          packets.set(label, list);
        }
        next();
      });
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('two tabs of one origin emit concurrently and only one drains', async () => {
    const context = await browser.newContext();
    try {
      const a = await openPage(context, server.url);
      const b = await openPage(context, server.url);
      await Promise.all([run(a.page, (h) => h.open('A')), run(b.page, (h) => h.open('B'))]);
      await waitFor(a.page, (h) => h.status().connected);
      await waitFor(b.page, (h) => h.status().connected);
      // Election settles (lock granted, status updated) within a moment; then exactly one leads.
      await expect
        .poll(async () => [await run(a.page, (h) => h.status().leader), await run(b.page, (h) => h.status().leader)].filter(Boolean).length)
        .toBe(1);
      const aLeads = await run(a.page, (h) => h.status().leader);
      const [leader, follower] = aLeads ? ['A', 'B'] : ['B', 'A'];

      const [idsA, idsB] = await Promise.all([
        run(a.page, (h, n) => h.emitMarks('tabs', 'A', 0, n), N),
        run(b.page, (h, n) => h.emitMarks('tabs', 'B', 0, n), N),
      ]);
      // Both tabs' receipts settle: the follower's through the outcomes the leader records for it.
      const [seqsA, seqsB] = await Promise.all([run(a.page, (h) => h.delivered()), run(b.page, (h) => h.delivered())]);
      expect(seqsA).toHaveLength(N);
      expect(seqsB).toHaveLength(N);
      // Still exactly one leader, and it did not change hands.
      expect(await run(a.page, (h) => h.status().leader)).toBe(aLeads);
      expect(await run(b.page, (h) => h.status().leader)).toBe(!aLeads);

      expect(new Set(connected)).toEqual(new Set(['A', 'B']));
      expect(packets.get(follower) ?? []).toEqual([]);
      const sent = (packets.get(leader) ?? []).flat();
      expect(new Set(sent)).toEqual(new Set([...idsA, ...idsB]));
      expect(sent).toHaveLength(2 * N); // nothing was sent twice

      const { events } = await server.fete.log.read(0, { pattern: 'marks.tabs', limit: 10_000 });
      expect(events).toHaveLength(2 * N);
      expect(new Set(events.map((e) => e.id)).size).toBe(2 * N);
      // Each tab's events are in its emit order.
      for (const [tab, ids] of [['A', idsA], ['B', idsB]] as const) {
        const mine = events.filter((e) => (e.payload as { tab: string }).tab === tab);
        expect(mine.map((e) => e.id)).toEqual(ids);
        expect(mine.map((e) => (e.payload as { n: number }).n)).toEqual(Array.from({ length: N }, (_, i) => i));
      }
      expect([...a.errors, ...b.errors]).toEqual([]);
    } finally {
      await context.close();
    }
  }, 180_000);

  it('when the leader tab closes, the other tab takes the lock and drains what it queued meanwhile', async () => {
    const context = await browser.newContext();
    try {
      const a = await openPage(context, server.url);
      await run(a.page, (h) => h.open('A2'));
      await waitFor(a.page, (h) => h.status().leader && h.status().connected);
      const b = await openPage(context, server.url);
      await run(b.page, (h) => h.open('B2'));
      await waitFor(b.page, (h) => h.status().connected);
      expect(await run(b.page, (h) => h.status().leader)).toBe(false);

      // Offline, B's entries wait in the shared outbox; then the leader's tab goes away.
      await context.setOffline(true);
      await waitFor(a.page, (h) => !h.status().connected);
      await waitFor(b.page, (h) => !h.status().connected);
      const ids = await run(b.page, (h) => h.emitMarks('handover', 'B2', 0, 50));
      await a.page.close();
      await waitFor(b.page, (h) => h.status().leader);
      await context.setOffline(false);
      await waitFor(b.page, (h) => h.status().connected && h.status().pending === 0);
      await run(b.page, (h) => h.delivered());

      const { events } = await server.fete.log.read(0, { pattern: 'marks.handover', limit: 10_000 });
      expect(events.map((e) => e.id)).toEqual(ids);
      expect(packets.get('A2') ?? []).toEqual([]);
      expect([...a.errors, ...b.errors]).toEqual([]);
    } finally {
      await context.close();
    }
  }, 180_000);
});
