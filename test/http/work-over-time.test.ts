// What /health, /metrics and the inspector say about work over time: an orphaned listener (listed,
// its backlog left out of the health total, retired from the inspector), a dead letter skipped
// from the inspector, and schedules with their next and last runs.
import { describe, expect, it } from 'vitest';
import { createFete } from '../../server/index.js';
import { waitFor } from '../support/wait.js';
import { postJson, startServer, testAuth, topics } from './http-harness.js';

describe('work over time in /health, /metrics and the inspector', () => {
  it('shows an orphaned listener, a schedule and a dead letter; the inspector retires and skips', async () => {
    const fete = await createFete({
      topics,
      store: 'memory',
      worker: { leaseMs: 2000, heartbeatMs: 200, pollIntervalMs: 50 },
      listeners: { heartbeatMs: 50, orphanAfterMs: 1500 },
      security: testAuth,
    });
    const { url } = await startServer({ inspector: { authorize: () => true }, metrics: 'public' }, fete);
    fete.on(topics.audit, 'gone', () => undefined);
    fete.on(topics.orderCreated, 'poison', () => {
      throw new Error('poison');
    }, { retries: 0, orderBy: (p) => (p as { orderId: string }).orderId });
    // Hourly, last ticked three hours ago: one catch-up run at start, then quiet for the test.
    fete.schedule('tick', { everyMs: 3_600_000 }, () => 1, { catchUp: 'last' });
    await fete.transaction((tx) => tx.query(`INSERT INTO fete.schedules (name, spec, last_tick) VALUES ('tick', '{}', now() - interval '3 hours')`));
    await fete.emit(topics.audit, { kind: 'k', msg: 'owed to gone' });
    await fete.off(topics.audit, 'gone');
    await fete.start();
    await fete.emit(topics.orderCreated, { orderId: 'o1', total: 1 });
    await fete.emit(topics.orderCreated, { orderId: 'o1', total: 2 });
    const [dead] = await waitFor(async () => {
      const list = await fete.deadLetters();
      return list.length === 1 ? list : undefined;
    }, { what: 'dead letter' });
    await waitFor(async () => (await fete.stats()).listeners.some((l) => l.name === 'gone' && l.orphaned), { what: 'orphaned' });
    await waitFor(async () => ((await fete.stats()).schedules ?? [])[0]?.lastRunAt != null, { what: 'a scheduled run' });

    const health = (await (await fetch(`${url}/health`)).json()) as { worker: { backlog: { pending: number }; orphanedListeners: Array<{ name: string }> } };
    expect(health.worker.orphanedListeners).toEqual([expect.objectContaining({ name: 'gone', target: 'audit.{kind}' })]);
    // Left out: the orphan's pending delivery; counted: the poison key's blocked second event.
    expect(health.worker.backlog.pending).toBe(1);

    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('fete_listener_orphaned{target="audit.{kind}",listener="gone"} 1');
    expect(metrics).toContain('fete_listener_orphaned{target="orders.{orderId}.created",listener="poison"} 0');
    expect(metrics).toMatch(/fete_schedule_next_run_timestamp_seconds\{schedule="tick",kind="every"\} \d+/);
    expect(metrics).toMatch(/fete_schedule_last_run_timestamp_seconds\{schedule="tick",kind="every"\} \d+/);

    const schedules = (await (await fetch(`${url}/inspector/schedules`)).json()) as { schedules: Array<Record<string, unknown>> };
    expect(schedules.schedules).toEqual([expect.objectContaining({ name: 'tick', kind: 'every', local: true, nextRunAt: expect.any(String), lastRunAt: expect.any(String) })]);
    const listeners = (await (await fetch(`${url}/inspector/listeners`)).json()) as { listeners: Array<{ name: string; orphaned: boolean }> };
    expect(listeners.listeners.find((l) => l.name === 'gone')).toMatchObject({ orphaned: true, pending: 1 });

    const retired = await postJson(`${url}/inspector/listeners/gone/retire`, {});
    expect(await retired.json()).toEqual({ name: 'gone', status: 'retired', listeners: 1, removed: 1, dead: 0 });
    const skipped = await postJson(`${url}/inspector/dead-letters/${dead!.id}/skip`, {});
    expect(await skipped.json()).toEqual({ id: dead!.id, status: 'skipped' });
    // The key is unblocked: the second event of o1 runs (and dies too: the handler always throws).
    await waitFor(async () => (await fete.deadLetters()).length === 1 && (await fete.deadLetters())[0]!.id !== dead!.id, { what: 'next of the key ran' });
    const again = await postJson(`${url}/inspector/dead-letters/${dead!.id}/skip`, {});
    expect(again.status).toBe(404);
  });
});
