// PGlite in a data directory: one process per directory (a second one gets STORE_LOCKED), and
// work left running by a killed process runs again when the directory is opened next.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createFete } from '../../server/index.js';
import { topics } from './suite/harness.js';
import { waitFor } from '../support/wait.js';

const child = new URL('../support/pglite-child.ts', import.meta.url).pathname;
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

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(children.map(exited));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('PGlite data directory', () => {
  it('a second process opening the same directory gets STORE_LOCKED; after the owner exits it opens', async () => {
    const dir = tempDir();
    const holder = await run('hold', dir, 'ready');
    await expect(createFete({ topics, store: { pglite: dir } })).rejects.toMatchObject({
      code: 'STORE_LOCKED',
      message: expect.stringContaining(`in use by process ${holder.pid}`),
    });
    holder.kill('SIGTERM');
    await exited(holder);
    const fete = await createFete({ topics, store: { pglite: dir } });
    await expect(createFete({ topics, store: { pglite: dir } })).rejects.toMatchObject({ code: 'STORE_LOCKED' });
    await fete.stop();
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
