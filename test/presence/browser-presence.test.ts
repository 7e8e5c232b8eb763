// Presence in real Chromium: two pages of one fete server (PGlite), one watching a room, the other
// joining it with a state, changing the state, and leaving by closing its page.
import { createServer, type Server as HttpServer } from 'node:http';
import express from 'express';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFete, type Fete } from '../../server/index.js';
import { pageRoutes } from '../browser/support/page-server.js';
import { type TestPage, openPage, run, waitFor } from '../browser/support/pages.js';
import { browserSkipReason, launchChromium } from '../support/browser.js';
import { security, topics, type Topics } from './fixtures.js';
import type * as PresencePage from './presence-page.js';
import { closeHttp, listen } from '../support/http-server.js';

type H = typeof PresencePage;
const skip = browserSkipReason();
if (skip) process.stdout.write(`browser presence test skipped: ${skip}\n`);

describe.skipIf(skip)('presence in Chromium', () => {
  let browser: Browser;
  let fete: Fete<Topics>;
  let http: HttpServer;
  let url: string;

  beforeAll(async () => {
    browser = await launchChromium();
    fete = await createFete({ topics, security, store: 'memory', presence: { heartbeatMs: 50, ttlMs: 300 } });
    const app = express();
    app.use(await pageRoutes('test/presence/presence-page.ts'));
    http = createServer(app);
    fete.attach(http);
    // localhost, not 127.0.0.1: the page's origin must be a secure context (IndexedDB, Web Locks).
    url = (await listen(http)).replace('127.0.0.1', 'localhost');
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await fete?.stop();
    if (http) await closeHttp(http);
  });

  it('a page sees another page join with its state, update it and leave when it closes', async () => {
    const watcherContext = await browser.newContext();
    const joinerContext = await browser.newContext();
    try {
      const watcher: TestPage = await openPage(watcherContext, url);
      await run<void, string, H>(watcher.page, (h, user) => h.open(user), 'bob');
      expect(await run<string[], string, H>(watcher.page, (h, p) => h.watch(p), 'rooms.*.chat')).toEqual([]);

      const joiner: TestPage = await openPage(joinerContext, url);
      await run<void, string, H>(joiner.page, (h, user) => h.open(user), 'alice');
      await run<void, undefined, H>(joiner.page, (h) => h.join('rooms.r1.chat', { typing: false }));
      await waitFor(watcher.page, (h) => (h as unknown as H).changes().length === 1);
      await run<void, undefined, H>(joiner.page, (h) => h.setState({ typing: true }));
      await waitFor(watcher.page, (h) => (h as unknown as H).changes().length === 2);
      expect(await run<string[], undefined, H>(watcher.page, (h) => h.members())).toEqual(['rooms.r1.chat @alicex1 {"typing":true}']);
      await joiner.page.close();
      await waitFor(watcher.page, (h) => (h as unknown as H).changes().length === 3);
      expect(await run<string[], undefined, H>(watcher.page, (h) => h.changes())).toEqual([
        'join @alicex1 {"typing":false}',
        'update @alicex1 {"typing":true}',
        'leave @alicex0 {"typing":true}',
      ]);
      expect(await fete.presence('rooms.>')).toEqual([]);
      expect([...watcher.errors, ...joiner.errors]).toEqual([]);
    } finally {
      await watcherContext.close();
      await joinerContext.close();
    }
  });
});
