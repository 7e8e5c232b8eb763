// Serves a browser test or benchmark page from the test's own HTTP server: the HTML, the browser
// build of fete/client (test/support/browser.ts) and page modules written in TypeScript beside the
// tests, transpiled on request. An import map sends the page modules' imports of `zod`, `idb`,
// `client/` and `shared/` to the one bundle, so a page module type-checks like any other file.
// A service worker (`/offline-cache.js`) lets a page reload while the browser is offline.
import { readFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Router } from 'express';
import ts from 'typescript';
import { clientBundleDir } from '../../support/browser.js';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
/** Only these repo paths are served as page modules (outbox-v1.ts is shared with the Node tests). */
const MODULE_ROOTS = ['test/browser/', 'test/presence/', 'bench/outbox/', 'test/support/outbox-v1.ts'];
const BUNDLE = '/fete-client.js';

const importMap = {
  imports: { zod: BUNDLE, idb: BUNDLE, '/src/client/index.js': BUNDLE, '/src/shared/index.js': BUNDLE },
};

/** The page at `/`: loads `harness` (a repo path such as `test/browser/support/page.ts`) and puts
 * its exports on `window.harness`. */
function html(harness: string): string {
  const src = `/src/${harness.replace(/\.ts$/, '.js')}`;
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>fete test page</title>
<script type="importmap">${JSON.stringify(importMap)}</script>
<script type="module">import * as harness from ${JSON.stringify(src)}; window.harness = harness;</script>
</head><body></body></html>`;
}

/** A network-first service worker: every same-origin GET except Socket.IO is cached on its way
 * through, and served from that cache when the network fails. It is how an app's page survives a
 * reload without network (a PWA); a browser test registers it, reloads once online to fill the
 * cache, and can then reload offline. A plain script (a worker's globals are not the DOM's). */
const OFFLINE_CACHE_WORKER = `
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== location.origin || url.pathname.startsWith('/socket.io/')) return;
  event.respondWith(
    fetch(event.request)
      .then(async (response) => {
        const cache = await caches.open('fete-test-page');
        await cache.put(event.request, response.clone());
        return response;
      })
      .catch(async () => (await caches.match(event.request)) ?? Response.error()),
  );
});
`;

/** Routes for the page, the bundle and the page modules. Mount before anything else at `/`. */
export async function pageRoutes(harness: string): Promise<Router> {
  const bundleDir = await clientBundleDir();
  const router = express.Router();
  router.get('/', (_req, res) => {
    res.type('html').set('cache-control', 'no-store').send(html(harness));
  });
  router.get('/favicon.ico', (_req, res) => void res.sendStatus(204));
  router.get('/offline-cache.js', (_req, res) => {
    res.type('text/javascript').set('cache-control', 'no-store').send(OFFLINE_CACHE_WORKER);
  });
  router.get(BUNDLE, (_req, res) => {
    res.type('text/javascript').sendFile(join(bundleDir, 'fete-client.js'));
  });
  router.get(/^\/src\/(.+)\.js$/, async (req, res) => {
    const rel = normalize(`${(req.params as unknown as string[])[0]}.ts`);
    if (!MODULE_ROOTS.some((root) => rel.startsWith(root)) || rel.includes('..')) return void res.sendStatus(404);
    let source: string;
    try {
      source = await readFile(join(repo, rel), 'utf8');
    } catch {
      return void res.sendStatus(404);
    }
    const { outputText } = ts.transpileModule(source, {
      fileName: rel,
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, verbatimModuleSyntax: true },
    });
    res.type('text/javascript').set('cache-control', 'no-store').send(outputText);
  });
  return router;
}
