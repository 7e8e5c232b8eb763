// `npm start` / `npm run dev`: the playground on the embedded store. `npm start` builds the page
// with Vite when the built page is missing or older than its sources, then serves it; `--dev`
// (npm run dev) serves it through Vite's dev middleware with hot reload instead. The server is
// TypeScript, run through tsx's loader, with `fete/*` resolved to this repo's sources by
// tsconfig.json's `paths`. Each step is printed as it starts, so a slow first start says what it
// is waiting for; the server prints its URL as soon as it listens.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const dev = process.argv.includes('--dev');
const started = performance.now();
const say = (what) => process.stdout.write(`fete playground: ${what} (${((performance.now() - started) / 1000).toFixed(1)} s)\n`);

/** The newest modification time under `path` (a file or a directory), skipping `skip` dirs. */
function newest(path, skip) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let latest = 0;
  for (const entry of readdirSync(path)) {
    if (skip.includes(entry)) continue;
    latest = Math.max(latest, newest(join(path, entry), skip));
  }
  return latest;
}

/** The built page is up to date when it is newer than everything the browser bundle is made of. */
function pageUpToDate() {
  const built = join(repo, 'dist/playground/index.html');
  if (!existsSync(built)) return false;
  const sources = Math.max(
    newest(join(repo, 'playground'), ['server', 'node_modules']),
    newest(join(repo, 'client'), []),
    newest(join(repo, 'shared'), []),
    newest(join(repo, 'vite.config.ts'), []),
    newest(join(repo, 'package.json'), []),
  );
  return statSync(built).mtimeMs >= sources;
}

say(`starting on Node ${process.version}`);
if (!dev) {
  if (pageUpToDate()) say('the built page is up to date (dist/playground): no build');
  else {
    say('building the page with Vite…');
    const { build } = await import('vite');
    await build({ configFile: `${repo}vite.config.ts`, logLevel: 'warn' });
    say('page built');
  }
}
say('loading the server (TypeScript through tsx)…');
const { register } = await import('tsx/esm/api');
register({ tsconfig: `${repo}tsconfig.json` });
say(
  process.env.FETE_DATABASE_URL
    ? 'connecting to PostgreSQL (FETE_DATABASE_URL)…'
    : `opening the embedded store in ${process.env.FETE_DATA_DIR || './.fete/data'} (a new one is copied from a template, made once per machine)…`,
);
await import('../playground/server/main.ts');
say('ready');
