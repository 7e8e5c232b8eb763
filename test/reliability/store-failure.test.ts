// A PGlite data directory that stops being writable under a running server, then becomes writable
// again (issue 11: every emit failed with `File exists` for the life of the process while /health
// said ok). Real files and permissions: the server runs in a child process as an unprivileged user
// (as `nobody` when the tests run as root, since root ignores file modes), the test takes write
// permission away and gives it back. `pg_switch_wal()` makes the next write need a new WAL file,
// which is when a read-only directory shows (files already open stay writable).
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const child = new URL('./store-failure-child.ts', import.meta.url).pathname;
const asRoot = process.getuid?.() === 0;
const NOBODY = 65534;
const dirs: string[] = [];
const procs: ChildProcess[] = [];

type Out =
  | { type: 'ready'; url: string }
  | { type: 'emitted'; ok: boolean; code?: string; retryable?: boolean; message?: string; seq?: number }
  | { type: 'done'; ok: boolean; message?: string }
  | { type: 'health'; status: number; body: { status: string; error?: { code: string; message: string } } }
  | { type: 'error'; message: string };

function start(dir: string) {
  const proc = fork(child, [dir], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    ...(asRoot ? { uid: NOBODY, gid: NOBODY } : {}),
  });
  procs.push(proc);
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const inbox: Out[] = [];
  let wake = () => undefined as void;
  proc.on('message', (m) => {
    inbox.push(m as Out);
    wake();
  });
  proc.on('exit', () => wake());
  const next = async (): Promise<Out> => {
    for (;;) {
      const m = inbox.shift();
      if (m) {
        if (m.type === 'error') throw new Error(`child failed: ${m.message}`);
        return m;
      }
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`child exited; stderr:\n${stderr}`);
      await new Promise<void>((r) => (wake = r));
    }
  };
  const ask = async <T extends Out['type']>(m: object, type: T): Promise<Extract<Out, { type: T }>> => {
    proc.send(m);
    const r = await next();
    if (r.type !== type) throw new Error(`expected ${type}, got ${JSON.stringify(r)}`);
    return r as Extract<Out, { type: T }>;
  };
  return { next, ask };
}

afterAll(() => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const d of dirs) {
    execFileSync('chmod', ['-R', 'u+w', d]);
    rmSync(d, { recursive: true, force: true });
  }
});

describe.skipIf(process.platform === 'win32')('PGlite store that cannot write', () => {
  it('emits fail with STORE_FAILED (not retryable, saying what to do) and /health is 503 with the store message; once writable again both recover without a restart', { timeout: 240_000 }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'fete-ro-'));
    dirs.push(root);
    if (asRoot) chownSync(root, NOBODY, NOBODY);
    const data = join(root, 'data');
    const c = start(data);
    expect((await c.next()).type).toBe('ready');
    expect(await c.ask({ type: 'emit', orderId: 'before' }, 'emitted')).toMatchObject({ ok: true });
    expect((await c.ask({ type: 'health' }, 'health')).status).toBe(200);

    execFileSync('chmod', ['-R', 'a-w', data]);
    expect(await c.ask({ type: 'sql', sql: 'SELECT pg_switch_wal()' }, 'done')).toMatchObject({ ok: true });
    const failed = await c.ask({ type: 'emit', orderId: 'read-only' }, 'emitted');
    expect(failed).toMatchObject({ ok: false, code: 'STORE_FAILED', retryable: false });
    expect(failed.message).toMatch(/Permission denied/);
    expect(failed.message).toMatch(/Make the directory writable/);
    const again = await c.ask({ type: 'emit', orderId: 'still-read-only' }, 'emitted');
    expect(again).toMatchObject({ ok: false, code: 'STORE_FAILED', retryable: false });
    const down = await c.ask({ type: 'health' }, 'health');
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: 'unavailable', error: { code: 'STORE_FAILED', message: expect.stringContaining('cannot write') } });

    execFileSync('chmod', ['-R', 'u+w', data]);
    // The store reopens on its next use (at most once a second): the first call may still fail.
    let emitted: Extract<Out, { type: 'emitted' }> | undefined;
    for (let i = 0; i < 20 && !emitted?.ok; i++) {
      emitted = await c.ask({ type: 'emit', orderId: `writable-${i}` }, 'emitted');
      if (!emitted.ok) await new Promise((r) => setTimeout(r, 250));
    }
    expect(emitted).toMatchObject({ ok: true });
    const up = await c.ask({ type: 'health' }, 'health');
    expect(up.status).toBe(200);
    expect(up.body.status).toBe('ok');
  });
});
