// Real Chromium for tests and benchmarks: Debian's binary driven by playwright-core, and a browser
// build of `fete/client` (Vite library mode) that a test's own server serves from localhost.
// Outside CI a missing Chromium skips the browser suites with a printed reason; in CI it fails.
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = process.env.FETE_CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Flags this machine needs: no sandbox as root, no GPU, and no calls to Google's hosts. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** Why browser tests are skipped (undefined when they run). Throws in CI when Chromium is missing. */
export function browserSkipReason(): string | undefined {
  if (existsSync(CHROMIUM_PATH)) return undefined;
  const reason = `Chromium is not at ${CHROMIUM_PATH} (apt-get install -y chromium)`;
  if (process.env.CI === 'true') throw new Error(`${reason}, and CI=true: the browser suites must run in CI`);
  return reason;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}

const repo = fileURLToPath(new URL('../..', import.meta.url));
let bundle: Promise<string> | undefined;

/**
 * Builds `client/index.ts` for the browser once per process and returns the directory holding
 * `fete-client.js` (an ES module: everything `fete/client` exports, plus `z` from zod and
 * `openDB` from idb; see browser-entry.ts). Serve it next to the test page.
 */
export function clientBundleDir(): Promise<string> {
  bundle ??= buildClientBundle();
  return bundle;
}

async function buildClientBundle(): Promise<string> {
  const { build } = await import('vite');
  const outDir = await mkdtemp(join(tmpdir(), 'fete-client-'));
  const entry = join(repo, 'test/support/browser-entry.ts');
  await build({
    configFile: false,
    root: repo,
    logLevel: 'warn',
    build: {
      outDir,
      emptyOutDir: false,
      minify: false,
      sourcemap: 'inline',
      target: 'es2022',
      lib: { entry, formats: ['es'], fileName: () => 'fete-client.js' },
    },
  });
  return outDir;
}
