// The published package works for a real consumer: `npm run build` + `npm pack` give a tarball that
// a separate ESM project installs and imports all three subpaths from, JavaScript and types alike.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '../..');
const run = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_loglevel: 'error' } });

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
    // Throws (failing the test) with the compiler's output if the declarations do not resolve.
    run(join(repo, 'node_modules/.bin/tsc'), ['-p', '.'], consumer);
  });
});
