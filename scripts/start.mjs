// `npm start` / `npm run dev`: the playground on the embedded store. `npm start` builds the page
// with Vite (a second or two), then serves it; `--dev` (npm run dev) serves it through Vite's dev
// middleware with hot reload instead. The server is TypeScript, run through tsx's loader, with
// `fete/*` resolved to this repo's sources by tsconfig.json's `paths`.
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const dev = process.argv.includes('--dev');

if (!dev) {
  const { build } = await import('vite');
  process.stdout.write('fete playground: building the page…\n');
  await build({ configFile: `${repo}vite.config.ts`, logLevel: 'warn' });
}
const { register } = await import('tsx/esm/api');
register({ tsconfig: `${repo}tsconfig.json` });
await import('../playground/server/main.ts');
