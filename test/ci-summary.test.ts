// CI truthfulness (issue 12 item 7): the summary line of test/support/summary-reporter.ts counts a
// suite that fails outside its tests (import, beforeAll, afterAll) as failed, so a run that exits
// 1 never reads "0 failed". Runs vitest itself on the fixture suites in test/fixtures/summary/.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('..', import.meta.url));
const config = fileURLToPath(new URL('./fixtures/summary/vitest.config.ts', import.meta.url));
const vitest = fileURLToPath(new URL('../node_modules/vitest/vitest.mjs', import.meta.url));

/** Runs vitest on one fixture (or all); its summary line and exit code. */
function run(fixture?: string): Promise<{ summary: string | undefined; code: number | null }> {
  const env: NodeJS.ProcessEnv = { ...process.env, FETE_SUMMARY_FIXTURES: fixture ? `${fixture}.fixture.ts` : '*.fixture.ts' };
  delete env.VITEST;
  delete env.VITEST_POOL_ID;
  delete env.VITEST_WORKER_ID;
  const proc = spawn(process.execPath, [vitest, 'run', '--config', config], { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr.resume();
  return new Promise((resolve) =>
    proc.on('close', (code) => resolve({ summary: out.split('\n').find((l) => l.startsWith('tests: ')), code })),
  );
}

describe('the CI summary line', { timeout: 180_000 }, () => {
  it('counts a module whose beforeAll throws as failed (its tests as skipped)', async () => {
    expect(await run('setup-fails')).toEqual({ summary: 'tests: 0 passed, 1 failed, 2 skipped', code: 1 });
  });

  it('counts a module that fails to import as failed', async () => {
    expect(await run('import-fails')).toEqual({ summary: 'tests: 0 passed, 1 failed, 0 skipped', code: 1 });
  });

  it('counts a describe block whose beforeAll throws as failed, once', async () => {
    expect(await run('suite-setup-fails')).toEqual({ summary: 'tests: 1 passed, 1 failed, 1 skipped', code: 1 });
  });

  it('counts a module whose afterAll throws as failed', async () => {
    expect(await run('teardown-fails')).toEqual({ summary: 'tests: 1 passed, 1 failed, 0 skipped', code: 1 });
  });

  it('a run where everything passes reads 0 failed and exits 0; a run with failures never reads 0 failed', async () => {
    expect(await run('passing')).toEqual({ summary: 'tests: 2 passed, 0 failed, 1 skipped', code: 0 });
    expect(await run()).toEqual({ summary: 'tests: 4 passed, 4 failed, 4 skipped', code: 1 });
  });
});
