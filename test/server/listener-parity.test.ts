// The same listener scenarios under `dispatch: 'durable'` (PGlite in memory) and
// `dispatch: 'inline'`, with the same expected outcomes: inline is a faithful double of durable
// for ctx.emit (commits only with a successful attempt), retries, timeouts, dead letters, retry
// and skip, delayed emits, ordering keys, schedules and waitIdle.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Fete, createFete } from '../../server/index.js';
import { pgliteEngine } from '../store/engines.js';
import { FAST_WORKER, type Topics, topics } from '../store/suite/harness.js';
import { waitFor } from '../support/wait.js';

const modes = ['durable', 'inline'] as const;
// One PGlite for the file (a schema per test): opening one per test costs seconds each.
const engine = pgliteEngine();
beforeAll(() => engine.setup(), 120_000);
afterAll(() => engine.teardown());

describe.each(modes)('listener contract under %s dispatch', (mode) => {
  let fete: Fete<Topics> | undefined;
  afterEach(async () => {
    await fete?.stop({ drain: false }).catch(() => undefined);
    fete = undefined;
  });
  const open = async (worker: { leaseMs?: number } = {}) => {
    const db = engine.fresh();
    fete = await createFete({ topics, dispatch: mode, store: db.store, schema: db.schema, worker: { ...FAST_WORKER, ...worker } });
    return fete;
  };
  const deadLetters = (f: Fete<Topics>, n: number) =>
    waitFor(async () => {
      const list = await f.deadLetters();
      return list.length === n ? list : undefined;
    }, { what: `${n} dead letters` });

  it('events emitted by a failed attempt vanish; the successful retry emits them once', async () => {
    const f = await open();
    const audited: string[] = [];
    f.on(topics.orderPlaced, 'mailer', async (p, ctx) => {
      await ctx.emit(topics.audit, { kind: 'mail', msg: `${p.orderId}@${ctx.attempt}` });
      if (ctx.attempt === 1) throw new Error('after emit');
    }, { backoff: { initialMs: 5, jitter: 0 } });
    f.on(topics.audit, 'auditor', (p) => void audited.push(p.msg));
    await f.start();
    await f.emit(topics.orderPlaced, { orderId: 'o1', total: 1 });
    await f.waitIdle();
    expect(audited).toEqual(['o1@2']);
  });

  it('retries, dead-letters, then retry() runs it with fresh attempts; a timeout is a failed attempt', async () => {
    // A lease far past the handler's timeoutMs: the timed-out attempt's failure is recorded within
    // it even when a loaded CI machine stalls the store for seconds (with FAST_WORKER's 2 s lease,
    // a stall > ~1.8 s once let the lease run out first, and the attempt ended without an outcome).
    const f = await open({ leaseMs: 15_000 });
    const attempts: number[] = [];
    let healthy = false;
    f.on(topics.orderPlaced, 'flaky', async (p, ctx) => {
      attempts.push(ctx.attempt);
      if (p.orderId === 'slow') await new Promise((r) => setTimeout(r, 5000));
      if (!healthy) throw new Error('down');
    }, { retries: 1, timeoutMs: 50, backoff: { initialMs: 5, jitter: 0 } });
    await f.start();
    await f.emit(topics.orderPlaced, { orderId: 'o1', total: 1 });
    const [dead] = await deadLetters(f, 1);
    expect(attempts).toEqual([1, 2]);
    expect(dead!.lastError).toContain('down');
    healthy = true;
    await f.retry(dead!.id);
    await f.waitIdle();
    expect(attempts).toEqual([1, 2, 1]);
    await f.emit(topics.orderPlaced, { orderId: 'slow', total: 1 });
    const [timedOut] = await deadLetters(f, 1);
    expect(timedOut!.lastError).toMatch(/TIMEOUT|timed out/i);
  });

  it('a delayed emit runs after its delay, and waitIdle waits for it', async () => {
    const f = await open();
    const ran: Array<{ id: string; at: number }> = [];
    f.on(topics.orderPlaced, 'later', (p) => void ran.push({ id: p.orderId, at: Date.now() }));
    await f.start();
    const t0 = Date.now();
    await f.emit(topics.orderPlaced, { orderId: 'delayed', total: 1 }, { delayMs: 150 });
    await f.emit(topics.orderPlaced, { orderId: 'now', total: 1 });
    await f.waitIdle({ timeoutMs: 5000 });
    expect(ran.map((r) => r.id)).toEqual(['now', 'delayed']);
    expect(ran[1]!.at).toBeGreaterThanOrEqual(t0 + 150 - 1);
    await f.emit(topics.orderPlaced, { orderId: 'next-week', total: 1 }, { delayMs: 7 * 86_400_000 });
    await f.waitIdle({ timeoutMs: 2000 });
    expect(ran).toHaveLength(2);
  });

  it('ordering keys: one key runs in seq order one at a time; a dead head blocks its key until skipped', async () => {
    const f = await open();
    const done: string[] = [];
    const running = new Set<string>();
    let overlap = false;
    f.on(topics.orderPlaced, 'strict', async (p) => {
      const key = p.orderId.split(':')[0]!;
      if (running.has(key)) overlap = true;
      running.add(key);
      try {
        await new Promise((r) => setTimeout(r, 2));
        if (p.orderId === 'b:poison') throw new Error('poison');
        done.push(p.orderId);
      } finally {
        running.delete(key);
      }
    }, { orderBy: (p) => (p as { orderId: string }).orderId.split(':')[0], retries: 0, concurrency: 5 });
    await f.start();
    for (const id of ['a:1', 'b:poison', 'a:2', 'b:after', 'a:3']) await f.emit(topics.orderPlaced, { orderId: id, total: 1 });
    const [dead] = await deadLetters(f, 1);
    await f.waitIdle();
    expect(done).toEqual(['a:1', 'a:2', 'a:3']);
    expect(overlap).toBe(false);
    await f.skip(dead!.id);
    await f.waitIdle();
    expect(done).toEqual(['a:1', 'a:2', 'a:3', 'b:after']);
    await expect(f.skip(dead!.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('a schedule runs its handler once per tick and is listed with its next run', async () => {
    const f = await open();
    const ticks: number[] = [];
    f.schedule('every-30', { everyMs: 30 }, (t) => void ticks.push(t.tick.getTime()), { catchUp: 'none' });
    await f.start();
    await waitFor(() => ticks.length >= 3, { what: 'three ticks' });
    expect(new Set(ticks).size).toBe(ticks.length);
    expect(ticks.every((t) => t % 30 === 0)).toBe(true);
    expect((await f.stats()).schedules).toEqual([expect.objectContaining({ name: 'every-30', kind: 'every', local: true, nextRunAt: expect.any(String) })]);
  });

  it('waitIdle throws TIMEOUT while work is still running past its timeout', async () => {
    const f = await open();
    f.on(topics.orderPlaced, 'slow', () => new Promise((r) => setTimeout(r, 1000)));
    await f.start();
    await f.emit(topics.orderPlaced, { orderId: 'o', total: 1 });
    await expect(f.waitIdle({ timeoutMs: 100 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    await f.waitIdle({ timeoutMs: 5000 });
  });
});
