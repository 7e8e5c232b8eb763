// A subscription in real Chromium across a restart of the server process's fete (same PGlite data
// directory, same port): the page resumes from its cursor and gets every event exactly once, in
// seq order, including those appended while no server was listening.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import type { Fete } from '../../server/index.js';
import { browserSkipReason, launchChromium } from '../support/browser.js';
import { topics, type Topics } from './support/catalogue.js';
import { startBrowserServer, type BrowserTestServer } from './support/fete-server.js';
import { openPage, run, waitFor } from './support/pages.js';

const skip = browserSkipReason();
if (skip) process.stdout.write(`browser tests skipped: ${skip}\n`);

async function emitTicks(fete: Fete<Topics>, from: number, to: number): Promise<void> {
  for (let n = from; n < to; n++) await fete.emit(topics.tick, { n });
}

describe.skipIf(skip)('subscriptions across a server restart', () => {
  let browser: Browser;
  let dir: string;
  const servers: BrowserTestServer[] = [];

  beforeAll(async () => {
    [browser, dir] = await Promise.all([launchChromium(), mkdtemp(join(tmpdir(), 'fete-restart-'))]);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    for (const s of servers) await s.close().catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a subscription survives a server restart without duplicates', async () => {
    const first = await startBrowserServer({ store: { pglite: dir } });
    servers.push(first);
    const context = await browser.newContext();
    try {
      const { page, errors } = await openPage(context, first.url);
      await run(page, (h) => h.open('S'));
      await run(page, (h) => h.subscribeTicks('ticks.*'));
      await emitTicks(first.fete, 0, 10);
      await waitFor(page, (h) => h.ticks().received.length === 10);

      await first.close();
      await waitFor(page, (h) => !h.status().connected);

      // A new fete on the same store appends while nothing listens on the port, then serves again.
      const second = await startBrowserServer({ store: { pglite: dir }, port: first.port, setup: (fete) => emitTicks(fete, 10, 20) });
      servers.push(second);
      await waitFor(page, (h) => h.status().connected);
      await emitTicks(second.fete, 20, 30);
      await waitFor(page, (h) => h.ticks().received.length >= 30);
      // Anything sent twice would arrive right behind: give it a moment to show.
      await new Promise((r) => setTimeout(r, 500));

      const { received, gaps } = await run(page, (h) => h.ticks());
      expect(received.map((t) => t.n)).toEqual(Array.from({ length: 30 }, (_, i) => i));
      const seqs = received.map((t) => t.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size).toBe(30);
      const { events } = await second.fete.log.read(0, { pattern: 'ticks.*', limit: 1000 });
      expect(events.map((e) => e.seq)).toEqual(seqs);
      expect(gaps).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 180_000);
});
