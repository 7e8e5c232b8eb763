// The Socket.IO fanout on a real server (PGlite in memory): pattern routing, the sub/unsub
// protocol, resume from a cursor with the buffered handoff, the browser client end to end,
// restarts, retention gaps and slow sockets.
import { describe, expect, it } from 'vitest';
import type { Client } from '../../client/index.js';
import { createFete } from '../../server/index.js';
import { type Envelope, uuidv7 } from '../../shared/index.js';
import { RawClient, emitTicks, nodeClient, sharePGlite, startServer, topics, until, type TestServer, type Topics } from './support.js';
import { closedAfterEach } from '../support/closed-after-each.js';

sharePGlite();
const servers = closedAfterEach<TestServer>();
const raws = closedAfterEach<RawClient>();
const clients = closedAfterEach<Client<Topics>>();

async function server(...args: Parameters<typeof startServer>): Promise<TestServer> {
  const s = await startServer(...args);
  servers.push(s);
  return s;
}
async function raw(url: string, auth?: Record<string, unknown>): Promise<RawClient> {
  const c = new RawClient(url, auth);
  raws.push(c);
  await c.connected();
  return c;
}
function browser(url: string, auth?: Record<string, unknown>): Client<Topics> {
  const c = nodeClient(url, auth ? { auth } : {});
  clients.push(c);
  return c;
}
const status = (orderId: string, st = 'paid') => ({ orderId, status: st });

describe('routing', () => {
  it('sends each event to exactly the subscriptions whose pattern matches, in seq order', async () => {
    const s = await server();
    const c = await raw(s.url);
    const patterns = { star: 'orders.*.status', tail: 'orders.>', lit: 'orders.o1.status', ticks: 'ticks.*', all: '>' };
    for (const [sid, p] of Object.entries(patterns)) expect(await c.sub(sid, p)).toEqual({ ok: true, cursor: 0, epoch: expect.any(String) });
    await s.fete.emit(topics.orderStatus, status('o1'));
    await s.fete.emit(topics.tick, { n: 1 });
    await s.fete.emit(topics.orderPlaced, { orderId: 'o2', total: 3 });
    await s.fete.emit(topics.orderStatus, status('o2'));
    await s.fete.emit(topics.audit, { msg: 'x' }); // a domain topic without expose: routed, never sent
    await s.fete.emit(topics.tick, { n: 2 });
    await until(() => c.seqs('all').length === 5, 'all five exposed');
    await until(() => c.seqs('star').length === 2 && c.seqs('tail').length === 3);
    expect(c.seqs('star')).toEqual([1, 4]);
    expect(c.seqs('tail')).toEqual([1, 3, 4]);
    expect(c.seqs('lit')).toEqual([1]);
    expect(c.seqs('ticks')).toEqual([2, 6]);
    expect(c.seqs('all')).toEqual([1, 2, 3, 4, 6]);
    const e = c.events.get('star')![1]!;
    expect(e).toMatchObject({ topic: 'orders.{orderId}.status', subject: 'orders.o2.status', payload: status('o2'), seq: 4 });
    expect(s.fanout.stats()).toMatchObject({ sockets: 1, subscriptions: 5, eventsRouted: 6, eventsSent: 13 });
  });

  it('a sub with a sid the socket holds replaces it, and unsub stops delivery', async () => {
    const s = await server();
    const c = await raw(s.url);
    await c.sub('a', 'ticks.*');
    await c.sub('a', 'orders.*.status');
    await c.sub('b', '>');
    await s.fete.emit(topics.tick, { n: 1 });
    await s.fete.emit(topics.orderStatus, status('o1'));
    await until(() => c.seqs('b').length === 2);
    await until(() => c.seqs('a').length === 1);
    expect(c.seqs('a')).toEqual([2]);
    c.socket.emit('unsub', { sid: 'a' });
    await until(() => s.fanout.stats().subscriptions === 1, 'unsub applied');
    await s.fete.emit(topics.orderStatus, status('o2'));
    await until(() => c.seqs('b').length === 3);
    expect(c.seqs('a')).toEqual([2]);
  });

  it('refuses malformed subs with a code and keeps the socket serving', async () => {
    const s = await server();
    const c = await raw(s.url);
    expect(await c.sub('a', 'orders..x')).toMatchObject({ ok: false, error: { code: 'INVALID_PATTERN' } });
    expect(await c.sub('a', 'orders.>.x')).toMatchObject({ ok: false, error: { code: 'INVALID_PATTERN' } });
    expect(await c.sub('a', 42)).toMatchObject({ ok: false, error: { code: 'INVALID_PATTERN' } });
    expect(await c.sub('', '>')).toMatchObject({ ok: false, error: { code: 'MALFORMED' } });
    expect(await c.sub('x'.repeat(65), '>')).toMatchObject({ ok: false, error: { code: 'MALFORMED' } });
    expect(await c.sub('a', '>', -1)).toMatchObject({ ok: false, error: { code: 'MALFORMED' } });
    expect(await c.sub('a', '>', 'soon')).toMatchObject({ ok: false, error: { code: 'MALFORMED' } });
    expect(await c.socket.timeout(5000).emitWithAck('sub', 'nonsense')).toMatchObject({ ok: false, error: { code: 'MALFORMED' } });
    expect(await c.sub('ok', '>')).toEqual({ ok: true, cursor: 0, epoch: expect.any(String) });
  });

  it('caps the subscriptions of one socket', async () => {
    const s = await server();
    const c = await raw(s.url);
    const acks = await Promise.all(Array.from({ length: 257 }, (_, i) => c.sub(`s${i}`, `ticks.${i}`)));
    expect(acks.filter((a) => a.ok)).toHaveLength(256);
    expect(acks[256]).toMatchObject({ ok: false, error: { code: 'TOO_LARGE' } });
  });
});

describe('resume from a cursor', () => {
  it("'earliest' and a seq replay history, then continue live with no gap or duplicate", async () => {
    const s = await server({ readPageSize: 7 });
    await emitTicks(s.fete, 0, 50);
    const c = await raw(s.url);
    expect(await c.sub('e', 'ticks.*', 'earliest')).toEqual({ ok: true, cursor: 0, epoch: expect.any(String) });
    expect(await c.sub('n', 'ticks.*', 20)).toEqual({ ok: true, cursor: 20, epoch: expect.any(String) });
    // Live events racing the replay are buffered and flushed after it.
    await emitTicks(s.fete, 50, 50, 5);
    const want = Array.from({ length: 100 }, (_, i) => i + 1);
    await until(() => c.seqs('e').length >= 100 && c.seqs('n').length >= 80, 'replay + live');
    expect(c.seqs('e')).toEqual(want);
    expect(c.seqs('n')).toEqual(want.slice(20));
    expect(c.gaps).toEqual([]);
  });

  it('a live event emitted while the replay is reading is sent once, after the history', async () => {
    const s = await server({ readPageSize: 1 });
    await emitTicks(s.fete, 0, 30);
    const c = await raw(s.url);
    const acked = c.sub('e', '>', 'earliest');
    // Interleave appends with the page-by-page replay.
    for (let i = 0; i < 30; i++) await s.fete.emit(topics.tick, { n: 100 + i });
    await acked;
    await until(() => c.seqs('e').length >= 60, 'all 60');
    expect(c.seqs('e')).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
  });

  it('the browser client resumes after a disconnect during which 5,000 matching events were emitted: each once, in order', async () => {
    let hold: Promise<void> | undefined;
    let release = () => {};
    const s = await server({
      // Reconnects wait here while the test emits: the client is offline for the whole burst.
      auth: async ({ credentials }) => {
        await hold;
        return { id: String(credentials.user ?? 'anon') };
      },
    });
    const client = browser(s.url, { user: 'u1' });
    const got: Envelope[] = [];
    const sub = client.subscribe('ticks.*', (e) => {
      got.push(e);
    });
    await sub.ready;
    await s.fete.emit(topics.tick, { n: -1 });
    await until(() => got.length === 1, 'first event');
    hold = new Promise((r) => (release = r));
    s.fanout.io.of('/fete').disconnectSockets(true);
    await until(() => !client.status.connected, 'client offline');
    await emitTicks(s.fete, 0, 5000);
    await s.fete.emit(topics.orderStatus, status('not-a-tick'));
    release();
    await until(() => got.length >= 5001, '5,001 events', 60_000);
    await s.fete.emit(topics.tick, { n: 5000 });
    await until(() => got.length >= 5002, 'live again');
    const seqs = got.map((e) => e.seq!);
    expect(seqs).toEqual(Array.from({ length: 5002 }, (_, i) => (i === 5001 ? 5003 : i + 1)));
    expect(got.slice(1, 5001).map((e) => (e.payload as { n: number }).n)).toEqual(Array.from({ length: 5000 }, (_, i) => i));
  }, 90_000);

  it('resumes after a server restart: a new fete on the same store replays from the cursor', async () => {
    const dir = `/tmp/fete-restart-${uuidv7()}`;
    const a = await server({}, { store: { pglite: dir }, schema: 'fete' });
    await emitTicks(a.fete, 0, 10);
    const c1 = await raw(a.url);
    await c1.sub('t', 'ticks.*', 'earliest');
    await until(() => c1.seqs('t').length === 10);
    const cursor = c1.seqs('t').at(-1)!;
    c1.close();
    await a.close();
    servers.splice(servers.indexOf(a), 1);
    // The same data directory, a new process-like instance: seqs continue, history is kept.
    const b = await server({}, { store: { pglite: dir }, schema: 'fete' });
    await emitTicks(b.fete, 10, 5);
    const c2 = await raw(b.url);
    expect(await c2.sub('t', 'ticks.*', cursor)).toEqual({ ok: true, cursor: 10, epoch: expect.any(String) });
    await b.fete.emit(topics.tick, { n: 15 });
    await until(() => c2.seqs('t').length === 6);
    expect(c2.seqs('t')).toEqual([11, 12, 13, 14, 15, 16]);
  }, 90_000); // two PGlite directories opened: seconds each on a loaded machine

  it('the browser client resubscribes from its cursor after the server restarts on the same port', async () => {
    const dir = `/tmp/fete-restart-${uuidv7()}`;
    const a = await server({}, { store: { pglite: dir }, schema: 'fete' });
    const port = Number(new URL(a.url).port);
    const client = browser(a.url);
    const got: number[] = [];
    const sub = client.subscribe('ticks.*', (e) => void got.push(e.seq!));
    await sub.ready;
    await emitTicks(a.fete, 0, 3);
    await until(() => got.length === 3);
    await a.close();
    servers.splice(servers.indexOf(a), 1);
    const fete = await createFete({ topics, store: { pglite: dir }, security: { auth: 'anonymous' } });
    await emitTicks(fete, 3, 4); // while no server listens
    const b = await server({}, {}, fete);
    b.http.close();
    await new Promise<void>((r) => b.http.listen(port, '127.0.0.1', r));
    await until(() => got.length >= 7, 'resumed', 60_000);
    expect(got).toEqual([1, 2, 3, 4, 5, 6, 7]);
  }, 90_000);
});

describe('retention', () => {
  it('reports a gap when the cursor is older than the oldest event kept, and resumes after it', async () => {
    const s = await server();
    await emitTicks(s.fete, 0, 20);
    // Simulates retention pruning: the store does not prune yet.
    await s.fete.transaction((tx) => tx.query(`DELETE FROM "${s.schema}".events WHERE seq <= 12`));
    const c = await raw(s.url);
    // The ack names where the subscription starts; the gap that follows moves it past the hole.
    expect(await c.sub('t', 'ticks.*', 5)).toEqual({ ok: true, cursor: 5, epoch: s.fete.log.epoch });
    expect(await c.sub('e', 'ticks.*', 'earliest')).toEqual({ ok: true, cursor: 0, epoch: s.fete.log.epoch });
    expect(await c.sub('k', 'ticks.*', 15)).toEqual({ ok: true, cursor: 15, epoch: expect.any(String) });
    await until(() => c.seqs('t').length === 8 && c.seqs('e').length === 8 && c.seqs('k').length === 5);
    expect(c.gaps).toEqual([{ sid: 't', reason: 'pruned', after: 5, resumedAt: 12, epoch: s.fete.log.epoch }]);
    expect(c.seqs('t')).toEqual([13, 14, 15, 16, 17, 18, 19, 20]);
    expect(s.fanout.stats().retentionGaps).toBe(1);
  });

  it('the browser client reports the gap through onGap and moves past it', async () => {
    const s = await server();
    await emitTicks(s.fete, 0, 10);
    await s.fete.transaction((tx) => tx.query(`DELETE FROM "${s.schema}".events WHERE seq <= 4`));
    const client = browser(s.url);
    const gaps: unknown[] = [];
    const got: number[] = [];
    const sub = client.subscribe('ticks.*', (e) => void got.push(e.seq!), { from: 2, onGap: (g) => void gaps.push(g) });
    await sub.ready;
    await until(() => got.length === 6);
    expect(gaps).toEqual([{ pattern: 'ticks.*', reason: 'pruned', after: 2, resumedAt: 4 }]);
    expect(got).toEqual([5, 6, 7, 8, 9, 10]);
  });
});

describe('slow sockets', () => {
  it('a socket whose write buffer overflows catches up from the log: no loss, no duplicate, bounded buffer', async () => {
    const s = await server({ maxBufferedEvents: 8, readPageSize: 16 });
    const c = await raw(s.url);
    await c.sub('t', 'ticks.*');
    // Stall the socket: engine.io queues packets while the transport is not writable.
    const conn = [...s.fanout.io.of('/fete').sockets.values()][0]!.conn as unknown as { transport: { writable: boolean }; flush(): void };
    conn.transport.writable = false;
    await emitTicks(s.fete, 0, 300, 20);
    await until(() => s.fanout.stats().overflows > 0, 'overflow');
    // Events queued, not packets (an `evs` carries a replay page or a batch): `2/fete,["evs",{...}]`.
    const packets = (conn as unknown as { writeBuffer: Array<{ data?: unknown }> }).writeBuffer;
    const queued = packets
      .map((p) => (typeof p.data === 'string' && p.data.includes('["evs"') ? JSON.parse(p.data.slice(p.data.indexOf('['))) : [null, {}]) as [string, { es?: unknown[] }])
      .reduce((n, [, packet]) => n + (packet.es?.length ?? 1), 0);
    // The limit, plus one batch taken just under it (emitTicks commits 20 at a time), plus a replay page.
    expect(queued).toBeLessThanOrEqual(8 + 20 + 16);
    conn.transport.writable = true;
    conn.flush();
    await until(() => c.seqs('t').length >= 300, 'all 300');
    expect(c.seqs('t')).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(c.gaps).toEqual([]);
    await until(() => s.fanout.stats().catchingUp === 0);
    await s.fete.emit(topics.tick, { n: 300 });
    await until(() => c.seqs('t').length === 301, 'live again');
  });
});

describe('local handoff', () => {
  // A poll that never comes within the test: only the handoff, NOTIFY and the gap's own read move the tail.
  const noPoll = { pollIntervalMs: 600_000 };

  it('events committed by this process reach a live subscriber in seq order, once each, without the poll', async () => {
    const s = await server(noPoll);
    const c = await raw(s.url);
    await c.sub('t', 'ticks.*');
    const results = await Promise.all(Array.from({ length: 200 }, (_, n) => s.fete.emit(topics.tick, { n })));
    await until(() => c.seqs('t').length === 200);
    expect(c.seqs('t')).toEqual(results.map((r) => r.seq).sort((a, b) => a - b));
    expect(s.fanout.stats().tailCursor).toBe(200);
  });

  it('a local commit is sent to the sockets before its emit resolves (no turn in between), and concurrent emits share a packet', async () => {
    const s = await server(noPoll);
    const c = await raw(s.url);
    await c.sub('t', 'ticks.*');
    const one = await s.fete.emit(topics.tick, { n: 0 });
    // Sent in the commit hook: already counted when the emit's promise settles.
    expect(s.fanout.stats()).toMatchObject({ eventsSent: 1, tailCursor: one.seq });
    // Emits made while an append is in flight are committed together and reach the socket together.
    const results = await Promise.all(Array.from({ length: 20 }, (_, n) => s.fete.emit(topics.tick, { n: n + 1 })));
    expect(s.fanout.stats().eventsSent).toBe(21);
    await until(() => c.seqs('t').length === 21, 'every event');
    expect(c.seqs('t')).toEqual([one.seq, ...results.map((r) => r.seq)]);
    expect(c.packets.length).toBeLessThan(21);
  });

  it('a seq drawn by a rolled-back transaction or a duplicate emit does not hold back later events', async () => {
    const s = await server(noPoll);
    const c = await raw(s.url);
    await c.sub('t', 'ticks.*');
    const first = await s.fete.emit(topics.tick, { n: 1 });
    await expect(
      s.fete.transaction(async (tx) => {
        await tx.emit(topics.tick, { n: 2 });
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await s.fete.emit(topics.tick, { n: 1 }, { id: first.id })).toMatchObject({ duplicate: true, seq: first.seq });
    const last = await s.fete.emit(topics.tick, { n: 3 });
    // The rolled-back append and the duplicate each used up a seq: the log has a gap of two.
    expect(last.seq).toBe(first.seq + 3);
    await until(() => c.seqs('t').length === 2, 'the event after the gap');
    expect(c.events.get('t')!.map((e) => (e.payload as { n: number }).n)).toEqual([1, 3]);
    expect(c.seqs('t')).toEqual([first.seq, last.seq]);
  });
});

describe('batched packets', () => {
  it('events committed together reach each subscription as one evs packet in seq order; same-sid subscriptions taking different events get their own', async () => {
    const s = await server();
    const [a, b, c] = [await raw(s.url), await raw(s.url), await raw(s.url)];
    // Same sid everywhere (as browser pages number theirs): a and b match every event, c only o1's.
    for (const [client, pattern] of [[a, 'orders.>'], [b, 'orders.*.status'], [c, 'orders.o1.status']] as const)
      expect((await client.sub('s0', pattern)).ok).toBe(true);
    const results = await s.fete.emitMany(['o1', 'o2', 'o1', 'o3'].map((id) => ({ topic: topics.orderStatus, payload: status(id) })));
    const seqs = results.map((r) => r.seq);
    await until(() => a.seqs('s0').length === 4 && b.seqs('s0').length === 4 && c.seqs('s0').length === 2, 'every delivery');
    expect(a.packets).toEqual([{ event: 'evs', sid: 's0', seqs }]);
    expect(b.packets).toEqual([{ event: 'evs', sid: 's0', seqs }]);
    expect(c.packets).toEqual([{ event: 'evs', sid: 's0', seqs: [seqs[0], seqs[2]] }]);
    expect(s.fanout.stats()).toMatchObject({ eventsRouted: 4, eventsSent: 10 });
    // A single event still goes out as `ev`.
    const one = await s.fete.emit(topics.orderStatus, status('o1'));
    await until(() => c.seqs('s0').length === 3, 'the single event');
    expect(c.packets.at(-1)).toEqual({ event: 'ev', sid: 's0', seqs: [one.seq] });
  });

  it('a replay page goes out as one evs packet, followed by live events, with no gap or duplicate', async () => {
    const s = await server();
    for (let n = 0; n < 5; n++) await s.fete.emit(topics.tick, { n });
    const c = await raw(s.url);
    expect(await c.sub('h', 'ticks.*', 0)).toEqual({ ok: true, cursor: 0, epoch: expect.any(String) });
    await until(() => c.seqs('h').length === 5, 'history');
    await s.fete.emit(topics.tick, { n: 5 });
    await until(() => c.seqs('h').length === 6, 'live');
    expect(c.packets).toEqual([
      { event: 'evs', sid: 'h', seqs: [1, 2, 3, 4, 5] },
      { event: 'ev', sid: 'h', seqs: [6] },
    ]);
  });
});

describe('fanout rate', () => {
  it('reports events sent per second over the last seconds, in the fanout and in fete.fanoutStats()', async () => {
    const s = await server();
    const c = await raw(s.url);
    await c.sub('t', 'ticks.*');
    await c.sub('u', '>');
    await emitTicks(s.fete, 0, 100);
    await until(() => c.seqs('t').length === 100 && c.seqs('u').length === 100);
    await new Promise((r) => setTimeout(r, 600));
    const stats = s.fanout.stats();
    expect(stats.eventsSent).toBe(200);
    expect(stats.eventsSentPerSecond).toBeGreaterThan(0);
    // Not more than was sent, over at least the time since attach.
    expect(stats.eventsSentPerSecond).toBeLessThanOrEqual(200 / 0.5);
    expect(s.fete.fanoutStats().eventsSentPerSecond).toBeGreaterThan(0);
  });
});
