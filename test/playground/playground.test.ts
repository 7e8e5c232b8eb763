// The newcomer's first minute, in real Chromium: `npm start` in a child process on a fresh data
// directory (no service needed), the page opened, an order placed by the `orders.place` command
// (its number shown) and processed by the durable listener, one dead-lettered, three more queued
// as commands while offline, a reload while offline that still shows each order's last confirmed
// state (and a feed that says offline), back online: the queued commands complete once each (their
// numbers read back by command id after the reload), the orders panel (the `orders.list` query)
// lists them, every order is processed exactly once and the feed is live again. Then a visible retry, a dead letter shown as its
// message (stack behind a disclosure, no absolute paths) and retried from the inspector with the
// right attempt count; two browsers tracking one order see each other (presence) and the
// courier's current position (a latest value) first; and the layout at 1440 and 390 px, saved as test/artifacts/playground-1440.png
// and test/artifacts/playground-390.png.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserSkipReason, launchChromium } from '../support/browser.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const artifacts = join(repo, 'test/artifacts');
const skipReason = browserSkipReason();
if (skipReason) console.log(`skipping the playground test: ${skipReason}`);

/** Starts `npm start` as a newcomer would and resolves with the URL it prints. */
function npmStart(dataDir: string): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn('npm', ['start'], {
    cwd: repo,
    env: { ...process.env, PORT: '0', FETE_DATA_DIR: dataDir, FETE_DATABASE_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  return new Promise((resolve, reject) => {
    // Generous: start-up speed is measured by `npm run bench -- embedded`, not asserted here.
    const timer = setTimeout(() => reject(new Error(`npm start printed no URL within 300 s:\n${out}`)), 300_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /➜ (http:\/\/localhost:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, output: () => out });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited with ${code}:\n${out}`));
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(-child.pid!, 'SIGTERM');
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

const row = (page: Page, orderId: string) => page.locator(`tr[data-order-id="${orderId}"]`);

async function placeOrder(page: Page, item: string, scenario: 'ok' | 'flaky' | 'poison' = 'ok'): Promise<string> {
  const before = await page.locator('tr[data-order-id]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-order-id')));
  await page.fill('#order-item', item);
  await page.check(`input[data-scenario="${scenario}"]`);
  await page.click('#place-order');
  const handle = await page.waitForFunction(
    (known) => [...document.querySelectorAll('tr[data-order-id]')].map((r) => r.getAttribute('data-order-id')).find((id) => !known.includes(id)),
    before,
  );
  return (await handle.jsonValue()) as string;
}

async function expectProcessedOnce(page: Page, orderId: string): Promise<void> {
  await expect.poll(() => row(page, orderId).getAttribute('data-state'), { timeout: 30_000 }).toBe('confirmed');
  await expect.poll(() => row(page, orderId).getAttribute('data-times'), { timeout: 10_000 }).toBe('1');
}

describe.skipIf(skipReason !== undefined)('the playground, started with npm start', () => {
  let dataDir: string;
  let server: Awaited<ReturnType<typeof npmStart>>;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'fete-playground-'));
    server = await npmStart(join(dataDir, 'data'));
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1440, height: 1000 } })).newPage();
  }, 360_000);

  afterAll(async () => {
    await browser?.close();
    if (server) await stop(server.child);
    // The server may still be flushing its store when npm has exited: rm retries ENOTEMPTY.
    if (dataDir) await rm(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  }, 30_000);

  let first: string;
  let poison: string;

  it('keeps each order\'s last confirmed state across a reload while offline, and processes each exactly once', async () => {
    await page.goto(server.url);
    await page.waitForSelector('#connection[data-connected="true"]');
    first = await placeOrder(page, 'Espresso beans');
    // The command's answer: the order number, shown to the user and on the row.
    await expect.poll(() => page.textContent('#order-notice')).toBe(`Order #1 placed (${first}).`);
    expect(await row(page, first).getAttribute('data-number')).toBe('1');
    await expectProcessedOnce(page, first);
    // The orders panel is fed by the orders.list query, asked again as order events arrive.
    await expect.poll(() => row(page, first).getAttribute('data-listed')).toBe('true');
    poison = await placeOrder(page, 'Paper filters', 'poison');
    await expect.poll(() => row(page, poison).getAttribute('data-state'), { timeout: 40_000 }).toBe('dead-lettered');
    await expect.poll(() => page.textContent('#feed-panel .sub-state')).toBe('live on orders.>');

    await page.click('#offline-toggle');
    await expect.poll(() => page.textContent('#connection')).toBe('offline');
    await expect.poll(() => page.getAttribute('#feed-panel .sub-state', 'class')).toContain('offline');
    const offline = [await placeOrder(page, 'Oat milk'), await placeOrder(page, 'Ceramic mug'), await placeOrder(page, 'Chai blend')];
    for (const id of offline) expect(await row(page, id).getAttribute('data-state')).toBe('outbox');
    for (const id of offline) expect(await row(page, id).getAttribute('data-number')).toBe('');
    expect(await page.textContent('#order-notice')).toContain('queued in the outbox');
    await expect.poll(() => page.textContent('#pending-count')).toBe('3');

    await page.reload();
    await page.waitForSelector('#pending-count');
    expect(await page.isChecked('#offline-toggle')).toBe(true);
    await expect.poll(() => page.textContent('#pending-count')).toBe('3');
    // The truth as last confirmed, order by order: not "in outbox" for everything.
    const stateText = (id: string) => row(page, id).locator('[data-state-text]').textContent();
    await expect.poll(() => stateText(first)).toBe('confirmed');
    await expect.poll(() => stateText(poison)).toBe('dead letter');
    for (const id of offline) await expect.poll(() => stateText(id)).toBe('in outbox');
    expect(await row(page, first).locator('.as-of').textContent()).toBe('as last confirmed by the server');
    expect(await row(page, first).getAttribute('data-times')).toBe('1');
    await expect.poll(() => page.textContent('#feed-panel .sub-state')).toContain('offline');

    await page.click('#offline-toggle');
    for (const id of [first, ...offline]) await expectProcessedOnce(page, id);
    await expect.poll(() => page.textContent('#pending-count')).toBe('0');
    // The queued commands ran once each, in queue order, and their answers reached the page after
    // the reload (client.commandResult by command id); the query lists them with those numbers.
    for (const [i, id] of offline.entries()) {
      await expect.poll(() => row(page, id).getAttribute('data-number')).toBe(String(3 + i));
      await expect.poll(() => row(page, id).getAttribute('data-listed')).toBe('true');
    }
    expect(await page.textContent('#order-notice')).toContain('from the outbox');
    const listed = await page.evaluate(async () => {
      const res = await fetch(`/fete/queries/orders.list?input=${encodeURIComponent(JSON.stringify({ limit: 50 }))}`);
      return (await res.json()) as { result: { orderId: string; number: number; times: number }[] };
    });
    expect(listed.result.map((o) => o.number)).toEqual([5, 4, 3, 2, 1]);
    expect(listed.result.filter((o) => o.orderId !== poison).every((o) => o.times === 1)).toBe(true);
    await expect.poll(() => page.textContent('#feed-panel .sub-state')).toBe('live on orders.>');
    expect(await row(page, poison).getAttribute('data-state')).toBe('dead-lettered');

    // The server's own record: one created event and one fulfilment row per order.
    const created = await page.evaluate(async () => (await (await fetch('/fete/inspector/events?limit=1000&after=0&pattern=orders.*.created')).json()) as { events: { payload: { orderId: string } }[] });
    const fulfilled = await page.evaluate(async () => (await (await fetch('/api/fulfilments')).json()) as { fulfilments: { orderId: string; times: number }[] });
    for (const id of [first, ...offline]) {
      expect(created.events.filter((e) => e.payload.orderId === id)).toHaveLength(1);
      expect(fulfilled.fulfilments.filter((f) => f.orderId === id)).toEqual([expect.objectContaining({ orderId: id, times: 1 })]);
    }
  }, 180_000);

  it('shows a retry, a dead letter as its message with the stack behind a disclosure, and the attempt count after an inspector retry', async () => {
    const flaky = await placeOrder(page, 'Burr grinder', 'flaky');
    await expect.poll(() => row(page, flaky).getAttribute('data-state'), { timeout: 15_000 }).toBe('retrying');
    await expectProcessedOnce(page, flaky);
    expect(await row(page, flaky).locator('.detail').textContent()).toContain('attempt 2');

    const letter = page.locator('#dead-letters li', { hasText: `orders.${poison}.created` });
    await letter.waitFor({ timeout: 10_000 });
    expect(await letter.locator('.dead-message').textContent()).toBe('payment service refused the order (failure 3 of 3 on purpose)');
    const stack = letter.locator('details.stack');
    expect(await stack.getAttribute('open')).toBeNull();
    const frames = (await stack.locator('pre').textContent()) ?? '';
    expect(frames).toContain('playground/server/fulfilment.ts');
    expect(frames).not.toContain(repo);

    await letter.locator('button[data-retry]').click();
    await expectProcessedOnce(page, poison);
    // Three attempts failed before the retry: the one that succeeded is the fourth.
    expect(await row(page, poison).locator('.detail').textContent()).toContain('attempt 4');
    await expect.poll(() => page.locator('#dead-letters li', { hasText: `orders.${poison}.created` }).count()).toBe(0);

    // The live feed shows the events, typed by pattern.
    await page.fill('#feed-pattern', 'orders.*.status');
    await page.selectOption('#feed-from', 'earliest');
    await page.click('#feed-panel button[type="submit"]');
    await expect.poll(() => page.locator('#feed li code.subject', { hasText: `orders.${poison}.status` }).count()).toBeGreaterThan(0);
  }, 120_000);

  it('tracking: two browsers looking at one order see each other (join and leave), and a new one gets the courier\'s current position first', async () => {
    // A new order: its courier starts when someone first looks at it (and arrives after a minute).
    const tracked = await placeOrder(page, 'Pour-over kettle');
    await expectProcessedOnce(page, tracked);
    await page.waitForSelector(`#track-order option[value="${tracked}"]`, { state: 'attached' });
    await page.selectOption('#track-order', tracked);
    const me = await page.evaluate(() => localStorage.getItem('fete-playground:visitor'));
    expect(me).toMatch(/^[A-Za-z]+ [A-Za-z]+ \d+$/);
    await expect.poll(() => page.locator('#viewers li[data-visitor]').evaluateAll((li) => li.map((l) => l.getAttribute('data-visitor'))), { timeout: 20_000 }).toEqual([me]);
    // The server moves the courier of an order someone looks at.
    await expect.poll(() => page.getAttribute('#courier', 'data-state'), { timeout: 20_000 }).toBe('moving');
    const seenBefore = Number(await page.getAttribute('#courier', 'data-version'));
    expect(seenBefore).toBeGreaterThanOrEqual(1);

    // Another browser (its own storage: another visitor) opens the page and tracks the same order.
    const otherContext = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    try {
      const other = await otherContext.newPage();
      await other.goto(server.url);
      await other.waitForSelector('#connection[data-connected="true"]');
      await other.waitForSelector(`#track-order option[value="${tracked}"]`, { state: 'attached' });
      await other.selectOption('#track-order', tracked);
      const them = await other.evaluate(() => localStorage.getItem('fete-playground:visitor'));
      expect(them).not.toBe(me);
      // The current position came with the subscription, before its ack: no wait for a move.
      await expect.poll(() => other.getAttribute('#courier', 'data-at-ready'), { timeout: 20_000 }).toMatch(/^\d+$/);
      expect(Number(await other.getAttribute('#courier', 'data-at-ready'))).toBeGreaterThanOrEqual(seenBefore);
      // Each sees both, and the first page sees the other one leave when it closes.
      const both = [me, them].sort();
      const listed = (p: Page) => p.locator('#viewers li[data-visitor]').evaluateAll((li) => li.map((l) => l.getAttribute('data-visitor')).sort());
      await expect.poll(() => listed(page), { timeout: 20_000 }).toEqual(both);
      await expect.poll(() => listed(other), { timeout: 20_000 }).toEqual(both);
      expect(await other.locator(`#viewers li[data-visitor="${them}"]`).textContent()).toContain('(you)');
      // Both pages follow the same courier: the other page catches up with the first one's version.
      const v = Number(await page.getAttribute('#courier', 'data-version'));
      await expect.poll(async () => Number(await other.getAttribute('#courier', 'data-version')), { timeout: 20_000 }).toBeGreaterThanOrEqual(v);
      await other.close();
      await expect.poll(() => listed(page), { timeout: 30_000 }).toEqual([me]);
    } finally {
      await otherContext.close();
    }
  }, 120_000);

  it('lays out at 1440 and 390 px wide: nothing runs out of its card, ids stay whole, the pattern box stays usable', async () => {
    mkdirSync(artifacts, { recursive: true });
    for (const width of [1440, 390]) {
      await page.setViewportSize({ width, height: width > 600 ? 1000 : 844 });
      await page.waitForTimeout(300); // a frame or two for the redraw
      const layout = await page.evaluate(() => {
        const overflowing = [...document.querySelectorAll<HTMLElement>('.card')].filter((c) => c.scrollWidth > c.clientWidth + 1).map((c) => c.id);
        const ids = [...document.querySelectorAll<HTMLElement>('tr[data-order-id] td:first-child code')];
        const wrappedIds = ids.filter((c) => c.getClientRects().length > 1).map((c) => c.textContent);
        return {
          pageWidth: document.documentElement.scrollWidth,
          overflowing,
          wrappedIds,
          ids: ids.length,
          patternWidth: document.querySelector<HTMLElement>('#feed-pattern')!.getBoundingClientRect().width,
        };
      });
      expect(layout.pageWidth).toBeLessThanOrEqual(width);
      expect(layout.overflowing).toEqual([]);
      expect(layout.ids).toBeGreaterThan(0);
      expect(layout.wrappedIds).toEqual([]);
      expect(layout.patternWidth).toBeGreaterThanOrEqual(140);
      await page.screenshot({ path: join(artifacts, `playground-${width}.png`), fullPage: true });
    }
  }, 60_000);
});
