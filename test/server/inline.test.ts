// dispatch: 'inline': the same handler contract without a store, for tests and ephemeral apps.
import { describe, expect, it } from 'vitest';
import { isFeteError, uuidv7 } from '../../shared/index.js';
import { createFete, currentPrincipal, runAs } from '../../server/index.js';
import { topics } from '../store/suite/harness.js';
import { gate, waitFor } from '../support/wait.js';

const open = () => createFete({ topics, dispatch: 'inline' });

describe('inline dispatch', () => {
  it('runs listeners in process after emit, with seqs and idempotent emits', async () => {
    const fete = await open();
    const seen: Array<[string, number, number | undefined]> = [];
    fete.on(topics.orderPlaced, 'a', (p, ctx) => void seen.push([p.orderId, ctx.attempt, ctx.envelope.seq]));
    const id = uuidv7();
    const first = await fete.emit(topics.orderPlaced, { orderId: 'o1', total: 1 }, { id });
    expect(await fete.emit(topics.orderPlaced, { orderId: 'o1', total: 1 }, { id })).toEqual({ ...first, duplicate: true });
    await fete.stop({ drain: true });
    expect(seen).toEqual([['o1', 1, first.seq]]);
  });

  it('retries with backoff, dead-letters after the last attempt, and retry() runs it again', async () => {
    const fete = await open();
    let healthy = false;
    const attempts: number[] = [];
    fete.on(topics.orderPlaced, 'flaky', (_p, ctx) => {
      attempts.push(ctx.attempt);
      if (!healthy) throw new Error('down');
    }, { retries: 2, backoff: { initialMs: 1, jitter: 0 } });
    await fete.emit(topics.orderPlaced, { orderId: 'o1', total: 1 });
    const [dl] = await waitFor(async () => {
      const list = await fete.deadLetters();
      return list.length === 1 ? list : undefined;
    }, { what: 'dead letter' });
    expect(attempts).toEqual([1, 2, 3]);
    expect(dl!.id).toBeLessThan(0);
    expect(dl!.lastError).toContain('down');
    expect((await fete.stats()).listeners[0]).toMatchObject({ name: 'flaky', durable: false, dead: 1 });
    healthy = true;
    await fete.retry(dl!.id);
    await waitFor(() => attempts.length === 4, { what: 'retried' });
    expect(await fete.deadLetters()).toEqual([]);
    await expect(fete.retry(dl!.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await fete.stop();
  });

  it('ctx.emit in a retried attempt is deduplicated, not doubled', async () => {
    const fete = await open();
    const audited: string[] = [];
    fete.on(topics.orderPlaced, 'mailer', async (p, ctx) => {
      await ctx.emit(topics.audit, { kind: 'mail', msg: p.orderId });
      if (ctx.attempt === 1) throw new Error('after emit');
    }, { backoff: { initialMs: 1, jitter: 0 } });
    fete.on(topics.audit, 'auditor', (p) => void audited.push(p.msg));
    await fete.emit(topics.orderPlaced, { orderId: 'o1', total: 1 });
    await waitFor(() => audited.length === 1, { what: 'audit' });
    await fete.stop({ drain: true });
    expect(audited).toEqual(['o1']);
  });

  it('ctx.tx is absent (in the types and at run time) and tx.query is refused with INVALID_OPTIONS; tx.emit commits or rolls back with the function', async () => {
    const fete = await open();
    const txs: unknown[] = [];
    const runs: string[] = [];
    fete.on(topics.orderPlaced, 'writer', async (p, ctx) => {
      runs.push(p.orderId);
      txs.push(ctx.tx);
      // @ts-expect-error under dispatch: 'inline' there is no ctx.tx to query
      if (txs.length > 1) await ctx.tx.query('SELECT 1');
    }, { retries: 0 });
    await expect(fete.transaction((tx) => tx.query('SELECT 1'))).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    await expect(
      fete.transaction(async (tx) => {
        await tx.emit(topics.orderPlaced, { orderId: 'rolled-back', total: 1 });
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    await fete.transaction(async (tx) => {
      await tx.emit(topics.orderPlaced, { orderId: 'committed', total: 1 });
    });
    await fete.stop({ drain: true });
    expect(runs).toEqual(['committed']);
    expect(txs).toEqual([undefined]);
  });

  it('restores the principal around listeners and aborts ctx.signal on timeout', async () => {
    const fete = await open();
    const principals: unknown[] = [];
    const reasons: unknown[] = [];
    fete.on(topics.orderPlaced, 'who', () => void principals.push(currentPrincipal()));
    fete.on(topics.orderShipped, 'slow', (_p, ctx) => new Promise<void>((resolve) =>
      ctx.signal.addEventListener('abort', () => {
        reasons.push(ctx.signal.reason);
        resolve();
      })), { timeoutMs: 20, retries: 0 });
    await runAs({ id: 'u-9' }, () => fete.emit(topics.orderPlaced, { orderId: 'o1', total: 1 }));
    await fete.emit(topics.orderShipped, { orderId: 'o1' });
    await waitFor(() => reasons.length === 1, { what: 'timeout' });
    await fete.stop({ drain: true });
    expect(principals).toEqual([{ id: 'u-9' }]);
    expect(isFeteError(reasons[0], 'TIMEOUT')).toBe(true);
  });

  it('stop({ drain: true }) waits for running handlers', async () => {
    const fete = await open();
    const release = gate();
    const entered = gate();
    let done = false;
    fete.on(topics.orderPlaced, 'slow', async () => {
      entered.open();
      await release.promise;
      done = true;
    });
    await fete.emit(topics.orderPlaced, { orderId: 'o1', total: 1 });
    await entered.promise;
    const stopping = fete.stop({ drain: true });
    release.open();
    await stopping;
    expect(done).toBe(true);
    await expect(fete.emit(topics.orderPlaced, { orderId: 'o2', total: 1 })).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('the in-memory log serves reads and append hooks, and appends outside envelopes re-validated', async () => {
    const fete = await open();
    const heads: Array<number | undefined> = [];
    const off = fete.log.onAppend((h) => heads.push(h));
    await fete.emit(topics.orderPlaced, { orderId: 'o1', total: 1 });
    await fete.emit(topics.orderShipped, { orderId: 'o1' });
    off();
    expect(heads).toEqual([1, 2]);
    expect((await fete.log.read(0, { pattern: 'orders.*.shipped' })).events.map((e) => e.seq)).toEqual([2]);
    const outcomes = await fete.log.append([
      { id: uuidv7(), topic: 'orders.{orderId}.shipped', subject: 'forged.subject', time: new Date().toISOString(), headers: { actor: 'admin', note: 'kept' }, payload: { orderId: 'o2' }, context: { principal: 'forged' } },
      { id: uuidv7(), topic: 'nope', subject: 'x', time: new Date().toISOString(), headers: {}, payload: {}, context: {} },
    ]);
    expect(outcomes[0]).toMatchObject({ ok: true, seq: 3, duplicate: false });
    expect(outcomes[1]).toMatchObject({ ok: false });
    const [stored] = (await fete.log.read(2)).events;
    expect(stored).toMatchObject({ subject: 'orders.o2.shipped', context: {} });
    expect(stored!.headers.actor).toBeUndefined();
    expect(stored!.headers.note).toBe('kept');
    await fete.stop();
  });
});
