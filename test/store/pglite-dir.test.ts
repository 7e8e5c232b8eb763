// PGlite in a data directory: one process per directory (a second one gets STORE_LOCKED, naming
// the owner), a lock file with no live owner is taken over (also by two processes racing for it),
// and work left running by a killed process runs again when the directory is opened next.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createFete } from '../../server/index.js';
import { lockDataDir } from '../../server/store/dir-lock.js';
import { topics } from './suite/harness.js';
import { waitFor } from '../support/wait.js';

const child = new URL('../support/pglite-child.ts', import.meta.url).pathname;
const lockChild = new URL('../support/dir-lock-child.ts', import.meta.url).pathname;
const dirs: string[] = [];
const children: ChildProcess[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'fete-pglite-'));
  dirs.push(d);
  return join(d, 'data');
}

/** Starts the child and resolves when it prints `line`. */
function run(mode: string, dir: string, line: string): Promise<ChildProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', child, mode, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(proc);
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.split('\n').includes(line)) resolve(proc);
    });
    proc.on('exit', (code, signal) => reject(new Error(`child exited (${code ?? signal}) before printing "${line}"`)));
  });
}

function exited(proc: ChildProcess): Promise<void> {
  return proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise((r) => proc.once('exit', () => r()));
}

function lockOwnerOf(dir: string): number {
  return Number(readFileSync(`${dir}.lock`, 'utf8').split('\n')[0]);
}

/** A dir-lock-child waiting for "go"; `outcome` is its second line ("locked" or "refused CODE"). */
async function contender(dir: string): Promise<{ proc: ChildProcess; outcome: Promise<string> }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', lockChild, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(proc);
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  let partial = '';
  proc.stdout!.on('data', (chunk: Buffer) => {
    partial += chunk.toString();
    const parts = partial.split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
    for (const w of waiters.splice(0)) w();
  });
  const line = (n: number) =>
    new Promise<string>((resolve, reject) => {
      const check = () => (lines.length > n ? resolve(lines[n]!) : waiters.push(check));
      proc.once('exit', (code) => (lines.length > n ? resolve(lines[n]!) : reject(new Error(`lock child exited (${code}) early`))));
      check();
    });
  expect(await line(0)).toBe('waiting');
  return { proc, outcome: line(1) };
}

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(children.map(exited));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('PGlite data directory', () => {
  // Timeout: two PGlite opens of a new directory (initdb) take ~30 s on a loaded 2-core machine.
  it('a second process opening the same directory gets STORE_LOCKED naming the owner; after the owner exits it opens', { timeout: 120_000 }, async () => {
    const dir = tempDir();
    const holder = await run('hold', dir, 'ready');
    const refused = createFete({ topics, store: { pglite: dir } });
    await expect(refused).rejects.toMatchObject({
      code: 'STORE_LOCKED',
      message: expect.stringContaining(`in use by process ${holder.pid} since 20`),
      details: { pid: holder.pid, lockFile: `${dir}.lock` },
    });
    // The message names the owner's command and says what to do.
    const { message } = (await refused.catch((err: Error) => err)) as Error;
    expect(message).toContain('pglite-child.ts hold');
    expect(message).toContain('stop that process first');
    expect(message).toContain(`delete ${dir}.lock`);
    holder.kill('SIGTERM');
    await exited(holder);
    const fete = await createFete({ topics, store: { pglite: dir } });
    await expect(createFete({ topics, store: { pglite: dir } })).rejects.toMatchObject({ code: 'STORE_LOCKED' });
    await fete.stop();
  });

  it('an empty lock file with no owner is taken over instead of blocking every start', { timeout: 120_000 }, async () => {
    const dir = tempDir();
    writeFileSync(`${dir}.lock`, '');
    const fete = await createFete({ topics, store: { pglite: dir } });
    expect(lockOwnerOf(dir)).toBe(process.pid);
    await fete.stop();
    expect(existsSync(`${dir}.lock`)).toBe(false);
  });

  it('an empty or unreadable lock file, or one of a dead process, is taken over', async () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    for (const content of ['', '\n', 'not a pid\n', '-5\n', '12abc\n', `${dead}\n2026-01-01T00:00:00.000Z\n${hostname()}\nnode gone.js\n`]) {
      const dir = tempDir();
      writeFileSync(`${dir}.lock`, content);
      const lock = await lockDataDir(dir);
      expect(lockOwnerOf(dir)).toBe(process.pid);
      await lock.release();
      expect(existsSync(`${dir}.lock`)).toBe(false);
    }
  });

  it("a lock file with this process's pid that this process does not hold is taken over; one it holds is refused", async () => {
    const dir = tempDir();
    writeFileSync(`${dir}.lock`, `${process.pid}\n`);
    const lock = await lockDataDir(dir);
    await expect(lockDataDir(dir)).rejects.toMatchObject({ code: 'STORE_LOCKED', message: expect.stringContaining('this process: open it once') });
    await lock.release();
  });

  it('a lock written on another host is not taken over (its pid cannot be checked here)', async () => {
    const dir = tempDir();
    writeFileSync(`${dir}.lock`, `999999\n2026-01-01T00:00:00.000Z\nanother-host.example\nnode server.js\n`);
    await expect(lockDataDir(dir)).rejects.toMatchObject({
      code: 'STORE_LOCKED',
      message: expect.stringContaining('in use by process 999999 on host another-host.example since 2026-01-01T00:00:00.000Z (node server.js)'),
    });
  });

  it('processes starting together on a stale lock: exactly one takes it over, the others get STORE_LOCKED', { timeout: 180_000 }, async () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    for (let round = 0; round < 2; round++) {
      const dir = tempDir();
      writeFileSync(`${dir}.lock`, round === 0 ? '' : `${dead}\n`);
      const racers = await Promise.all(Array.from({ length: 3 }, () => contender(dir)));
      for (const r of racers) r.proc.stdin!.write('go\n');
      const outcomes = await Promise.all(racers.map((r) => r.outcome));
      expect(outcomes.filter((o) => o === 'locked')).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'refused STORE_LOCKED')).toHaveLength(2);
      const winner = racers[outcomes.indexOf('locked')]!;
      expect(lockOwnerOf(dir)).toBe(winner.proc.pid);
      for (const r of racers) r.proc.stdin!.end();
      await Promise.all(racers.map((r) => exited(r.proc)));
      expect(existsSync(`${dir}.lock`)).toBe(false);
    }
  });

  it('an attempt cut off by SIGKILL is rolled back and runs again when the directory is reopened', async () => {
    const dir = tempDir();
    const crashed = await run('crash', dir, 'entered');
    crashed.kill('SIGKILL');
    await exited(crashed);
    const fete = await createFete({ topics, store: { pglite: dir }, worker: { pollIntervalMs: 50 } });
    const attempts: number[] = [];
    fete.on(topics.orderPlaced, 'ledger', async (p, ctx) => {
      attempts.push(ctx.attempt);
      await ctx.tx.query('INSERT INTO public.ledger (order_id, attempt) VALUES ($1, $2)', [p.orderId, ctx.attempt]);
    });
    await fete.start();
    await waitFor(async () => (await fete.stats()).listeners.every((l) => l.pending + l.running + l.retrying === 0) && attempts.length > 0, {
      what: 'the cut-off delivery done',
    });
    const ledger: Array<{ order_id: string; attempt: number }> = [];
    await fete.transaction(async (tx) => {
      ledger.push(...(await tx.query<{ order_id: string; attempt: number }>('SELECT order_id, attempt FROM public.ledger')).rows);
    });
    expect(attempts).toEqual([2]);
    expect(ledger).toEqual([{ order_id: 'o1', attempt: 2 }]);
    await fete.stop();
  });

  it('emitting from a handler that holds the PGlite transaction is refused instead of waiting forever', async () => {
    const fete = await createFete({ topics, store: 'memory', worker: { pollIntervalMs: 50 } });
    const errors: unknown[] = [];
    fete.on(topics.orderPlaced, 'nested', async (_p, ctx) => {
      await ctx.tx.query('SELECT 1');
      await fete.emit(topics.audit, { kind: 'x', msg: 'y' }).catch((err: unknown) => errors.push(err));
    });
    await fete.emit(topics.orderPlaced, { orderId: 'o1', total: 1 });
    await fete.start();
    await waitFor(() => errors.length === 1, { what: 'refused nested emit' });
    expect(errors[0]).toMatchObject({ code: 'INVALID_OPTIONS' });
    await fete.stop();
  });
});
