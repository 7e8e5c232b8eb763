// The published package works for a real consumer: `npm run build` + `npm pack` give a tarball that
// a separate ESM project installs and imports all three subpaths from, JavaScript and types alike,
// also with `skipLibCheck: false` and nothing but fete installed (no leaked dev types); express is
// an optional peer (not installed here: fete/server loads without it); source maps carry their
// sources; and `require()` is refused, as the README says (ESM only).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '../..');
/** Runs a command; a failure throws with its output (the compiler's errors, npm's log). */
const run = (cmd: string, args: string[], cwd: string) => {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_loglevel: 'error' } });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
};

describe('npm pack', () => {
  let work: string;
  let consumer: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'fete-pack-'));
    consumer = join(work, 'consumer');
    run('npm', ['run', 'build'], repo);
    run('npm', ['pack', '--pack-destination', work], repo);
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (!tarball) throw new Error('npm pack produced no tarball');
    run('mkdir', ['-p', consumer], work);
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    run('npm', ['install', join(work, tarball), '--prefer-offline', '--no-audit', '--no-fund'], consumer);
  }, 300_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('a separate ESM project imports fete/shared, fete/server and fete/client from the tarball', () => {
    writeFileSync(
      join(consumer, 'check.mjs'),
      `import * as shared from 'fete/shared';
import * as server from 'fete/server';
import * as client from 'fete/client';
const t = shared.defineTopic('orders.{orderId}.status', { kind: 'presentation' });
const env = shared.createEnvelope(t, { orderId: 'o-1', status: 'paid' });
const back = shared.decodeEnvelope(shared.encodeEnvelope(env));
console.log(JSON.stringify({
  subject: back.subject,
  shared: Object.keys(shared).length, server: Object.keys(server).length, client: Object.keys(client).length,
}));
`,
    );
    const out = JSON.parse(run('node', ['check.mjs'], consumer)) as Record<string, unknown>;
    expect(out.subject).toBe('orders.o-1.status');
    expect(out.shared).toBeGreaterThan(10);
    expect(out.server).toBeGreaterThan(0);
    expect(out.client).toBeGreaterThan(0);
  });

  it('the tarball ships type declarations that a strict TypeScript consumer resolves', () => {
    writeFileSync(
      join(consumer, 'check.ts'),
      `import { defineTopic, subjectOf, type Envelope } from 'fete/shared';
import * as server from 'fete/server';
import * as client from 'fete/client';
const t = defineTopic('orders.{orderId}.status', { kind: 'presentation' });
const s: string = subjectOf(t, { orderId: 'o-1' });
const e: Envelope | undefined = undefined;
export { s, e, server, client };
`,
    );
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', noEmit: true, skipLibCheck: true, types: [] }, files: ['check.ts'] }),
    );
    // Throws (failing the test) with the compiler's output if the declarations do not resolve, on
    // TypeScript 5.9 and 7 (the native compiler) alike.
    for (const tsc of COMPILERS) run(join(repo, tsc), ['-p', '.'], consumer);
  }, 120_000);

  it('type-checks a consumer with skipLibCheck: false that has only fete installed', () => {
    writeFileSync(
      join(consumer, 'strict.ts'),
      `import { defineTopic, defineTopics } from 'fete/shared';
import { createFete, type FeteLogger, type StoreOption } from 'fete/server';
import { createClient } from 'fete/client';
const topics = defineTopics({ ping: defineTopic('ping.{n}', { kind: 'presentation' }) });
const logger: FeteLogger = { info() {}, warn() {}, error() {} };
const store: StoreOption = 'memory';
export const start = () => createFete({ topics, store, logger });
export const connect = () => createClient({ url: 'http://localhost', topics, outbox: 'memory' });
`,
    );
    writeFileSync(
      join(consumer, 'tsconfig.strict.json'),
      JSON.stringify({
        compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', noEmit: true, skipLibCheck: false, lib: ['ES2023', 'DOM'] },
        files: ['strict.ts'],
      }),
    );
    // Only fete and what it depends on: no express (an optional peer), no @types the consumer added.
    expect(existsSync(join(consumer, 'node_modules/express'))).toBe(false);
    for (const tsc of COMPILERS) run(join(repo, tsc), ['-p', 'tsconfig.strict.json'], consumer);
  }, 240_000);

  it('loads fete/server without express, and fete.express() then names the missing package', () => {
    writeFileSync(
      join(consumer, 'no-express.mjs'),
      `import { createFete } from 'fete/server';
import { defineTopic, defineTopics } from 'fete/shared';
const fete = await createFete({ topics: defineTopics({ t: defineTopic('t', { kind: 'domain' }) }), dispatch: 'inline' });
try { fete.express(); console.log('no error'); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
await fete.stop();
`,
    );
    const out = JSON.parse(run('node', ['no-express.mjs'], consumer)) as { code: string; message: string };
    expect(out.code).toBe('INVALID_OPTIONS');
    expect(out.message).toContain('npm install express');
  });

/** The compilers a consumer may use: TypeScript 5.9 and 7 (devDependency `typescript7`). */
const COMPILERS = ['node_modules/typescript/bin/tsc', 'node_modules/typescript7/bin/tsc'];

  it('ships source maps whose sources are inside them, and no declaration maps to missing .ts files', () => {
    const dist = join(consumer, 'node_modules/fete/dist');
    const map = JSON.parse(readFileSync(join(dist, 'server/fete.js.map'), 'utf8')) as { sources: string[]; sourcesContent?: string[] };
    expect(map.sourcesContent?.[0]).toContain('createFete');
    expect(existsSync(join(dist, 'server/fete.d.ts.map'))).toBe(false);
  });

  it('is ESM only: require() fails with ERR_PACKAGE_PATH_NOT_EXPORTED, as the README says', () => {
    writeFileSync(join(consumer, 'cjs.cjs'), `try { require('fete/server'); console.log('loaded'); } catch (e) { console.log(e.code); }\n`);
    expect(run('node', ['cjs.cjs'], consumer).trim()).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });
});
