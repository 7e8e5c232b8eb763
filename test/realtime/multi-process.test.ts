// Two fete servers on one PostgreSQL schema: first two instances in this process, each with its own
// Socket.IO server, pool and LISTEN connection; then two real OS processes (fanout-server-child.ts).
// Each tails the log, so an event appended through either reaches the subscribers of both.
import { afterAll, describe, expect, it } from 'vitest';
import { encodeEnvelope, createEnvelope } from '../../shared/index.js';
import { dropSchemasAt, freshSchema, postgresAvailability } from '../support/postgres.js';
import { ServerProcess } from './server-process.js';
import { RawClient, topics, until } from './support.js';
import { serverPair } from './server-pair.js';

const availability = await postgresAvailability();
if (availability.skipReason) console.log(`skipping the two-server fanout tests: ${availability.skipReason}`);

describe.skipIf(availability.skipReason !== undefined)('two servers on one PostgreSQL', () => {
  const pair = serverPair(() => availability.url!, 'rt2', { pollIntervalMs: 200 });

  it("delivers events appended through either server to the other's subscribers, in seq order", async () => {
    const { a, b } = pair;
    const ca = new RawClient(a.url, {});
    const cb = new RawClient(b.url, {});
    pair.track(ca, cb);
    await Promise.all([ca.connected(), cb.connected()]);
    const [acka, ackb] = await Promise.all([ca.sub('s', 'ticks.*'), cb.sub('s', 'ticks.*')]);
    expect(acka.ok && ackb.ok).toBe(true);
    for (let i = 0; i < 20; i++) await (i % 2 === 0 ? a : b).fete.emit(topics.tick, { n: i });
    await until(() => ca.seqs('s').length === 20 && cb.seqs('s').length === 20, 'both see 20');
    expect(ca.seqs('s')).toEqual(cb.seqs('s'));
    expect([...ca.seqs('s')].sort((x, y) => x - y)).toEqual(ca.seqs('s'));
    expect(ca.events.get('s')!.map((e) => (e.payload as { n: number }).n)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('a client emit through one server reaches a subscriber of the other', async () => {
    const { a, b } = pair;
    const emitter = new RawClient(a.url, {});
    const watcher = new RawClient(b.url, {});
    pair.track(emitter, watcher);
    await Promise.all([emitter.connected(), watcher.connected()]);
    await watcher.sub('p', 'orders.*.placed');
    // Neither server has authorize.emit: denied by default.
    const env = createEnvelope(topics.orderPlaced, { orderId: 'o9', total: 1 });
    const ack = await emitter.emit([encodeEnvelope(env)]);
    expect(ack).toMatchObject({ ok: true, results: [{ id: env.id, status: 'rejected', error: { code: 'FORBIDDEN' } }] });
    await a.fete.emit(topics.orderPlaced, { orderId: 'o9', total: 2 });
    await until(() => watcher.seqs('p').length === 1);
    expect(watcher.events.get('p')![0]!.payload).toEqual({ orderId: 'o9', total: 2 });
  });
});

describe.skipIf(availability.skipReason !== undefined)('two server processes on one PostgreSQL', () => {
  const schema = freshSchema('rtp');
  const procs: ServerProcess[] = [];
  const raws: RawClient[] = [];
  afterAll(async () => {
    for (const c of raws) c.close();
    await Promise.all(procs.map((p) => p.stop()));
    await dropSchemasAt(availability.url!, [schema]);
  });

  it('events emitted concurrently through either process reach the subscribers of both, each exactly once, in seq order', async () => {
    const a = new ServerProcess({ url: availability.url!, schema });
    const b = new ServerProcess({ url: availability.url!, schema });
    procs.push(a, b);
    const [ra, rb] = await Promise.all([a.next('ready'), b.next('ready')]);
    expect(ra.pid).not.toBe(rb.pid);
    expect(ra.pid).not.toBe(process.pid);
    // Two subscribers on each process, on different patterns that both match every tick.
    const clients = [ra.port, ra.port, rb.port, rb.port].map((port) => new RawClient(`http://127.0.0.1:${port}`));
    raws.push(...clients);
    await Promise.all(clients.map((c) => c.connected()));
    const acks = await Promise.all(clients.map((c, i) => c.sub('s', i % 2 === 0 ? 'ticks.*' : '>')));
    expect(acks.every((ack) => ack.ok)).toBe(true);

    const PER_PROCESS = 300;
    a.send({ type: 'emit', from: 0, count: PER_PROCESS, concurrency: 8 });
    b.send({ type: 'emit', from: PER_PROCESS, count: PER_PROCESS, concurrency: 8 });
    const [ea, eb] = await Promise.all([a.next('emitted'), b.next('emitted')]);
    const appended = [...ea.seqs, ...eb.seqs].sort((x, y) => x - y);
    expect(new Set(appended).size).toBe(2 * PER_PROCESS);

    await until(() => clients.every((c) => c.seqs('s').length >= 2 * PER_PROCESS), 'every subscriber has every event', 60_000);
    // Nothing more arrives (a late duplicate would show up here).
    await new Promise((r) => setTimeout(r, 300));
    for (const c of clients) {
      expect(c.seqs('s')).toEqual(appended);
      const ns = c.events.get('s')!.map((e) => (e.payload as { n: number }).n);
      expect([...ns].sort((x, y) => x - y)).toEqual(Array.from({ length: 2 * PER_PROCESS }, (_, i) => i));
    }
  }, 90_000);
});
