// Two web nodes in this process on one PostgreSQL schema with the NATS bus: events committed by
// either reach the sockets of both, exactly once and in seq order, while each node's tail reads
// the log only when the bus cannot vouch for a seq.
import { describe, expect, it } from 'vitest';
import { postgresAvailability } from '../support/postgres.js';
import { RawClient, topics, until } from '../realtime/support.js';
import { serverPair } from '../realtime/server-pair.js';
import { connectNats } from '../../server/bus/nats-connect.js';
import { busRoot, busSubjects } from '../../server/bus/nats-subjects.js';
import { natsAvailability } from './nats.js';

const pgAvail = await postgresAvailability();
const natsAvail = await natsAvailability();
const skip = pgAvail.skipReason ?? natsAvail.skipReason;
if (skip) console.log(`skipping the NATS bus tests: ${skip}`);

describe.skipIf(skip !== undefined)('two web nodes over the NATS bus', () => {
  const pair = serverPair(() => pgAvail.url!, 'bus2', { pollIntervalMs: 60_000 }, { bus: { nats: natsAvail.url! } });

  it("delivers events appended through either node to the other's subscribers once, in seq order", async () => {
    const { a, b } = pair;
    const ca = new RawClient(a.url, {});
    const cb = new RawClient(b.url, {});
    pair.track(ca, cb);
    await Promise.all([ca.connected(), cb.connected()]);
    const [acka, ackb] = await Promise.all([ca.sub('s', 'ticks.*'), cb.sub('s', 'ticks.*')]);
    expect(acka.ok && ackb.ok).toBe(true);
    await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).fete.emit(topics.tick, { n: i })));
    await until(() => ca.seqs('s').length >= 40 && cb.seqs('s').length >= 40, 'both see 40');
    await new Promise((r) => setTimeout(r, 200));
    expect(ca.seqs('s')).toEqual(cb.seqs('s'));
    expect(ca.seqs('s')).toHaveLength(40);
    expect([...ca.seqs('s')].sort((x, y) => x - y)).toEqual(ca.seqs('s'));
    ca.close();
    cb.close();
    await until(() => a.fanout.stats().subscriptions === 0 && b.fanout.stats().subscriptions === 0, 'subscriptions gone');
  });

  it('a node asks NATS only for its sockets’ patterns and skips the rest without reading the log', async () => {
    const { a, b } = pair;
    const cb = new RawClient(b.url, {});
    pair.track(cb);
    await cb.connected();
    await cb.sub('o', 'orders.*.status');
    const before = b.fanout.stats().bus!;
    for (let i = 0; i < 10; i++) await a.fete.emit(topics.tick, { n: 100 + i });
    await a.fete.emit(topics.orderStatus, { orderId: 'o1', status: 'paid' });
    await until(() => cb.seqs('o').length === 1, 'the order status');
    expect(cb.events.get('o')![0]!.payload).toEqual({ orderId: 'o1', status: 'paid' });
    await until(() => b.fanout.stats().tailCursor >= cb.seqs('o')[0]!, 'the tail past it');
    const after = b.fanout.stats().bus!;
    // Only the order status came over NATS; the ticks were skipped on their notices' word.
    expect(after.received - before.received).toBe(1);
    expect(after.skipped - before.skipped).toBe(10);
    expect(after.reads).toBe(before.reads);
    expect(after.subscribed).toBe(1);
  });

  it('a jump in a publisher’s notice counter makes a node read the log from its cursor', async () => {
    const { a, b } = pair;
    const nc = await connectNats(natsAvail.url!, 'test publisher');
    try {
      const commits = busSubjects(busRoot('fete', b.fete.log.epoch)).commits;
      const before = b.fanout.stats().bus!;
      // Notices of a publisher that lost notices 2 to 4 (no seqs: only the counter matters here).
      nc.publish(commits, JSON.stringify({ p: 'lossy', n: 1, s: [] }));
      nc.publish(commits, JSON.stringify({ p: 'lossy', n: 5, s: [] }));
      await nc.flush();
      await until(() => b.fanout.stats().bus!.lost > before.lost && b.fanout.stats().bus!.reads > before.reads, 'the node read the log');
      expect(b.fanout.stats().bus!.lost - before.lost).toBe(1);
    } finally {
      await nc.close();
    }
  });
});

describe.skipIf(skip !== undefined)('tenants over the NATS bus', () => {
  // The token is the tenant; every caller may subscribe to anything its tenant sees.
  const security = { auth: (r: { credentials: Record<string, unknown> }) => ({ id: String(r.credentials.token), tenant: String(r.credentials.token) }), tenant: (p: { tenant: string }) => p.tenant };
  const pair = serverPair(() => pgAvail.url!, 'bust', { pollIntervalMs: 60_000, ...security }, { bus: { nats: natsAvail.url! } });

  it('a node receives over NATS only the events of its sockets’ tenants, and skips the others without reading the log', async () => {
    const { a, b } = pair;
    const t1 = new RawClient(b.url, { token: 't1' });
    pair.track(t1);
    await t1.connected();
    expect(await t1.sub('m', 'tenants.*.msgs.*')).toMatchObject({ ok: true });
    const before = b.fanout.stats().bus!;
    for (let i = 0; i < 5; i++) await a.fete.emit(topics.tenantMsg, { tenant: 't2', room: 'r', text: `other ${i}` }, { tenant: 't2' });
    await a.fete.emit(topics.tenantMsg, { tenant: 't1', room: 'r', text: 'mine' }, { tenant: 't1' });
    await until(() => t1.seqs('m').length === 1, "t1's message");
    expect(t1.events.get('m')!.map((e) => (e.payload as { text: string }).text)).toEqual(['mine']);
    await until(() => b.fanout.stats().tailCursor >= t1.seqs('m')[0]!, 'the tail past it');
    const after = b.fanout.stats().bus!;
    expect(after.received - before.received).toBe(1);
    expect(after.skipped - before.skipped).toBe(5);
    expect(after.reads).toBe(before.reads);
  });
});
