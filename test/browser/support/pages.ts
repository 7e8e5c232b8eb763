// Driving test pages from Node: open a page of the test server with its harness (page.ts) loaded,
// call harness functions with types checked against page.ts, and collect the page's uncaught
// errors so a test can assert there were none.
import type { BrowserContext, Page } from 'playwright-core';
import type * as Harness from './page.js';

export type { Harness };

export interface TestPage {
  page: Page;
  /** Uncaught errors and failed promises in the page, as text. */
  errors: string[];
}

/**
 * Runs `fn(harness, arg)` in the page. `fn` is sent as source text, so it may use only its
 * parameters (the harness and a JSON-serializable `arg`), nothing from the test's scope. `H` is
 * the page's harness module: the test page's (page.ts) unless `fn` annotates another.
 */
export function run<R, A = undefined, H = typeof Harness>(page: Page, fn: (h: H, arg: A) => R | Promise<R>, arg?: A): Promise<R> {
  return page.evaluate(
    ({ src, arg }) => (0, eval)(`(${src})`)((window as unknown as { harness: unknown }).harness, arg) as R | Promise<R>,
    { src: fn.toString(), arg: arg as A },
  );
}

/** Waits until `fn(harness, arg)` is truthy in the page (polled; bounded by `timeoutMs`). */
export async function waitFor<A = undefined>(page: Page, fn: (h: typeof Harness, arg: A) => unknown, arg?: A, timeoutMs = 60_000): Promise<void> {
  await page.waitForFunction(
    ({ src, arg }) => Boolean((0, eval)(`(${src})`)((window as unknown as { harness: typeof Harness }).harness, arg)),
    { src: fn.toString(), arg: arg as A },
    { timeout: timeoutMs, polling: 50 },
  );
}

/** Loads (or reloads) the test page and waits for its harness. */
export async function harnessReady(page: Page): Promise<void> {
  await page.waitForFunction(() => (window as unknown as { harness?: unknown }).harness !== undefined, undefined, { timeout: 60_000 });
}

export async function openPage(context: BrowserContext, url: string): Promise<TestPage> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => void errors.push(String(err)));
  await page.goto(`${url}/`);
  await harnessReady(page);
  return { page, errors };
}

/** Installs the page server's offline cache (a service worker) and reloads once online, so later
 * reloads work without network. */
export async function cacheForOffline(page: Page): Promise<void> {
  await page.evaluate(async () => {
    await navigator.serviceWorker.register('/offline-cache.js');
    await navigator.serviceWorker.ready;
  });
  await page.reload();
  await harnessReady(page);
  const controlled = await page.evaluate(() => navigator.serviceWorker.controller !== null);
  if (!controlled) throw new Error('the offline cache does not control the page');
}
