// Volatile and latest-value topics (issue 15, part 3), end to end on every engine (dispatch
// 'inline', PGlite, PostgreSQL): real Socket.IO, the real browser client, SSE over fetch.
// - volatile: sent to who is connected, marked `volatile`, no seq; never replayed, and a client that
//   reconnects is told with a 'volatile' gap.
// - latest: a new subscription gets the current values first, then changes, each version once.
// Both respect exposure and tenants; durable listeners on them are refused.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { Gap } from '../../client/index.js';
import { type Envelope, FeteError, uuidv7 } from '../../shared/index.js';
import { freshSchema, postgresAvailability } from '../support/postgres.js';
import { until } from './support.js';
import { IpcChild } from '../support/ipc-child.js';
import type { LiveChildCommand, LiveChildReply } from './live-emitter-child.js';
import { natsAvailability } from '../multinode/nats.js';
import { liveTopics as topics, type LiveTopics } from './live-topics.js';
import { type Served as LiveServed, liveHarness, tokenSecurity } from './live-harness.js';
import { parseSseMessage, readSseBlocks, type SseMessage } from '../support/sse-blocks.js';

const availability = await postgresAvailability();
const nats = await natsAvailability();
if (availability.skipReason) console.log(`live-topics: PostgreSQL cases skipped: ${availability.skipReason}`);

/** Browsers may emit (authorize.emit), as `token`'s user. */
const h = liveHarness(topics, { postgresUrl: availability.url, security: { ...tokenSecurity, authorize: { emit: () => true } }, schemaPrefix: 'live' });
const { engines, serve, client, raw } = h;
type Served = LiveServed<LiveTopics>;

/** Server-side: ends every socket (the client reconnects by itself). */
function dropConnections(s: Served): void {
  s.fanout.io.of('/fete').disconnectSockets(true);
}

const prices = (es: readonly Envelope[]) => es.map((e) => [e.subject, e.version, (e.payload as { price: number }).price]);

describe.each(engines)('volatile topics (%s)', (engine) => {
  it('are sent live marked volatile without a seq, never replayed on resume, and the client is told with a volatile gap', async () => {
    const s = await serve(engine);
    const c = client(s);
    const got: Envelope[] = [];
    const gaps: Gap[] = [];
    const sub = c.subscribe('rooms.r.>', (e) => void got.push(e), { onGap: (g) => void gaps.push(g) });
    await sub.ready;
    await s.fete.emit(topics.cursor, { room: 'r', x: 1 });
    const chat1 = await s.fete.emit(topics.chat, { room: 'r', text: 'a' });
    await until(() => got.length === 2, 'the first volatile and log events');
    const first = got.find((e) => e.topic === topics.cursor.name)!;
    expect(first).toMatchObject({ volatile: true, payload: { room: 'r', x: 1 } });
    expect(first.seq).toBeUndefined();
    // The cursor follows the log only.
    expect(sub.cursor).toBe(`${s.fete.log.epoch}:${chat1.seq}`);

    // Away: the log event is replayed on resume, the volatile one is gone.
    dropConnections(s);
    const lost = await s.fete.emit(topics.cursor, { room: 'r', x: 2 });
    expect(lost).toEqual({ id: expect.any(String), duplicate: false }); // no seq: it is in no log
    await s.fete.emit(topics.chat, { room: 'r', text: 'b' });
    await until(() => gaps.length === 1 && got.length === 3, 'the resume');
    const chat2 = got[2]!;
    await s.fete.emit(topics.cursor, { room: 'r', x: 3 });
    await until(() => got.length === 4, 'the next volatile event');
    expect(got.map((e) => (e.topic === topics.chat.name ? `chat ${(e.payload as { text: string }).text}` : `cursor ${(e.payload as { x: number }).x}`))).toEqual([
      'cursor 1',
      'chat a',
      'chat b',
      'cursor 3',
    ]);
    expect(gaps).toEqual([
      // From the cursor when the connection was lost to where it stood when the server acknowledged
      // the resume (the replay may come before the ack is handled).
      { pattern: 'rooms.r.>', reason: 'volatile', after: chat1.seq, resumedAt: expect.toBeOneOf([chat1.seq, chat2.seq]), topics: [topics.cursor.name, topics.typing.name] },
    ]);
  });

  it('a socket too far behind is sent no volatile events and only the newest latest value of a subject, and is told with a volatile gap before the next cursor', async () => {
    const s = await serve(engine, { attach: { maxBufferedEvents: 8 } });
    const c = client(s);
    const cursors: number[] = [];
    const prices: number[] = [];
    const gaps: Gap[] = [];
    await c.subscribe('rooms.r.>', (e) => void cursors.push((e.payload as { x: number }).x), { onGap: (g) => void gaps.push(g) }).ready;
    await c.subscribe('prices.*', (e) => void prices.push((e.payload as { price: number }).price)).ready;
    // Stall the socket: engine.io queues packets while the transport is not writable.
    const conn = [...s.fanout.io.of('/fete').sockets.values()][0]!.conn as unknown as { transport: { writable: boolean }; flush(): void };
    conn.transport.writable = false;
    for (let x = 0; x < 30; x++) await s.fete.emit(topics.cursor, { room: 'r', x });
    for (let p = 1; p <= 5; p++) await s.fete.emit(topics.price, { symbol: 'A', price: p });
    expect(s.fanout.stats().volatileDropped).toBeGreaterThan(0);
    conn.transport.writable = true;
    conn.flush();
    // Changes that went stale while it was behind are not queued for it (slow-reader-latest.test.ts).
    await until(() => prices.at(-1) === 5, 'the newest latest value');
    await s.fete.emit(topics.cursor, { room: 'r', x: 100 });
    await until(() => cursors.at(-1) === 100, 'the next cursor');
    expect(prices).toEqual([...new Set(prices)].sort((a, b) => a - b));
    expect(cursors.length).toBeLessThan(31);
    expect(cursors.slice(0, -1)).toEqual(Array.from({ length: cursors.length - 1 }, (_, i) => i));
    expect(gaps).toEqual([{ pattern: 'rooms.r.>', reason: 'volatile', after: 0, resumedAt: 0, topics: [topics.cursor.name, topics.typing.name] }]);
  });

  it('a subscription whose pattern covers no volatile topic gets no volatile gap on resume', async () => {
    const s = await serve(engine);
    const c = client(s);
    const gaps: Gap[] = [];
    const got: Envelope[] = [];
    const sub = c.subscribe('rooms.*.chat', (e) => void got.push(e), { onGap: (g) => void gaps.push(g) });
    await sub.ready;
    dropConnections(s);
    await s.fete.emit(topics.chat, { room: 'r', text: 'while away' });
    await until(() => got.length === 1, 'the replayed chat');
    expect(gaps).toEqual([]);
  });

  it('browser emits of a clientEmit volatile topic reach other browsers, and are in no log', async () => {
    const s = await serve(engine);
    const receiver = client(s);
    const got: Envelope[] = [];
    await receiver.subscribe('rooms.*.typing', (e) => void got.push(e)).ready;
    const sender = client(s);
    const receipt = await sender.emit(topics.typing, { room: 'r', who: 'ann' });
    expect(await receipt.delivered).toEqual({ id: receipt.id, duplicate: false });
    await until(() => got.length === 1, 'the typing event');
    expect(got[0]).toMatchObject({ volatile: true, subject: 'rooms.r.typing', payload: { who: 'ann' }, headers: { actor: expect.any(String) } });
    expect((await s.fete.log.read(0)).events).toEqual([]);
  });
});

describe.each(engines)('latest-value topics (%s)', (engine) => {
  it('a new subscriber gets the current value of each subject first, exactly once, then the changes', async () => {
    const s = await serve(engine);
    await s.fete.emit(topics.price, { symbol: 'A', price: 1 });
    expect(await s.fete.emit(topics.price, { symbol: 'A', price: 2 })).toEqual({ id: expect.any(String), duplicate: false, version: 2 });
    await s.fete.emit(topics.price, { symbol: 'B', price: 10 });
    // The raw protocol: the ack comes after the current values.
    const r = raw(s);
    await r.connected();
    expect(await r.sub('s0', 'prices.*')).toMatchObject({ ok: true });
    expect(prices(r.events.get('s0') ?? [])).toEqual([
      ['prices.A', 2, 2],
      ['prices.B', 1, 10],
    ]);
    const c = client(s);
    const got: Envelope[] = [];
    const sub = c.subscribe('prices.*', (e) => void got.push(e));
    await sub.ready;
    await until(() => got.length === 2, 'the current values');
    await s.fete.emit(topics.price, { symbol: 'A', price: 3 });
    await until(() => got.length === 3, 'the change');
    expect(prices(got)).toEqual([
      ['prices.A', 2, 2],
      ['prices.B', 1, 10],
      ['prices.A', 3, 3],
    ]);
    expect(got.every((e) => e.seq === undefined && e.volatile === undefined)).toBe(true);
    // A resume sends the current values again; the client drops the versions it has.
    dropConnections(s);
    await s.fete.emit(topics.price, { symbol: 'B', price: 11 });
    await until(() => got.length === 4, 'the change made while away');
    await s.fete.emit(topics.price, { symbol: 'A', price: 4 });
    await until(() => got.length === 5, 'the next change');
    expect(prices(got.slice(3))).toEqual([
      ['prices.B', 2, 11],
      ['prices.A', 4, 4],
    ]);
  });

  it('changes racing a new subscription reach it once each, in version order, ending at the last value', async () => {
    const s = await serve(engine);
    await s.fete.emit(topics.price, { symbol: 'R', price: 0 });
    const r = raw(s);
    await r.connected();
    const n = 60;
    const emitting = (async () => {
      for (let i = 1; i <= n; i++) await s.fete.emit(topics.price, { symbol: 'R', price: i });
    })();
    // Subscribes while the changes are being written (server-side dedupe: the raw protocol).
    await new Promise((resolve) => setTimeout(resolve, 2));
    expect(await r.sub('s0', 'prices.*')).toMatchObject({ ok: true });
    await emitting;
    await until(() => r.events.get('s0')?.at(-1)?.version === n + 1, 'the last version');
    const versions = r.events.get('s0')!.map((e) => e.version!);
    for (let i = 1; i < versions.length; i++) expect(versions[i]!).toBeGreaterThan(versions[i - 1]!);
    expect(new Set(versions).size).toBe(versions.length);
  });

  it('a snapshot larger than one page (1,200 subjects) reaches a new subscriber whole, each subject once', async () => {
    const s = await serve(engine);
    const n = 1200;
    await s.fete.emitMany(Array.from({ length: n }, (_, i) => ({ topic: topics.price, payload: { symbol: `S${i}`, price: i } })));
    const r = raw(s);
    await r.connected();
    await r.sub('s0', 'prices.*');
    await until(() => r.events.get('s0')?.length === n, 'the whole snapshot');
    const subjects = r.events.get('s0')!.map((e) => e.subject);
    expect(new Set(subjects).size).toBe(n);
    // Pages went out as evs packets, not one packet per value.
    expect(r.packets.filter((p) => p.sid === 's0').length).toBeLessThan(10);
  });

  it('a resend of the current value (same id) is a duplicate: no new version, nothing sent again', async () => {
    const s = await serve(engine);
    const r = raw(s);
    await r.connected();
    await r.sub('s0', 'prices.*');
    const id = uuidv7();
    expect(await s.fete.emit(topics.price, { symbol: 'A', price: 1 }, { id })).toEqual({ id, duplicate: false, version: 1 });
    expect(await s.fete.emit(topics.price, { symbol: 'A', price: 1 }, { id })).toEqual({ id, duplicate: true, version: 1 });
    await s.fete.emit(topics.price, { symbol: 'A', price: 2 });
    await until(() => r.events.get('s0')?.length === 2, 'the two values');
    expect(r.events.get('s0')!.map((e) => e.version)).toEqual([1, 2]);
  });

  it('fete.latest reads the current values of a pattern, per tenant', async () => {
    const s = await serve(engine);
    await s.fete.emit(topics.price, { symbol: 'A', price: 1 }, { tenant: 't1' });
    await s.fete.emit(topics.price, { symbol: 'A', price: 5 }, { tenant: 't2' });
    await s.fete.emit(topics.secretPrice, { symbol: 'A', cost: 7 }, { tenant: 't1' });
    const t1 = await s.fete.latest('prices.>', { tenant: 't1' });
    expect(t1.map((e) => [e.subject, e.version, e.payload])).toEqual([
      ['prices.A', 1, { symbol: 'A', price: 1 }],
      ['prices.A.cost', 1, { symbol: 'A', cost: 7 }],
    ]);
    expect((await s.fete.latest('prices.*', { tenant: 't2' })).map((e) => e.payload)).toEqual([{ symbol: 'A', price: 5 }]);
    expect(await s.fete.latest('prices.*')).toEqual([]);
  });
});

describe.each(engines)('exposure, tenants and listeners (%s)', (engine) => {
  it('each tenant receives only its own volatile events and latest values, snapshot and live', async () => {
    const s = await serve(engine);
    await s.fete.emit(topics.price, { symbol: 'A', price: 1 }, { tenant: 't1' });
    await s.fete.emit(topics.price, { symbol: 'A', price: 2 }, { tenant: 't2' });
    const got = { t1: [] as Envelope[], t2: [] as Envelope[] };
    for (const t of ['t1', 't2'] as const) await client(s, `u@${t}`).subscribe('>', (e) => void got[t].push(e)).ready;
    await until(() => got.t1.length === 1 && got.t2.length === 1, 'the snapshots');
    await s.fete.emit(topics.cursor, { room: 'r', x: 1 }, { tenant: 't1' });
    await s.fete.emit(topics.price, { symbol: 'A', price: 3 }, { tenant: 't2' });
    await s.fete.emit(topics.cursor, { room: 'r', x: 2 }, { tenant: 't2' });
    await until(() => got.t1.length === 2 && got.t2.length === 3, 'the live events');
    expect(got.t1.map((e) => e.payload)).toEqual([
      { symbol: 'A', price: 1 },
      { room: 'r', x: 1 },
    ]);
    expect(got.t2.map((e) => e.payload)).toEqual([
      { symbol: 'A', price: 2 },
      { symbol: 'A', price: 3 },
      { room: 'r', x: 2 },
    ]);
  });

  it('volatile and latest topics that are not exposed never leave the server, live or in a snapshot', async () => {
    const s = await serve(engine);
    await s.fete.emit(topics.secretPrice, { symbol: 'A', cost: 1 });
    const r = raw(s);
    await r.connected();
    expect(await r.sub('s0', 'prices.>')).toMatchObject({ ok: true });
    expect(await r.sub('s1', 'rooms.>')).toMatchObject({ ok: true });
    await s.fete.emit(topics.secretPrice, { symbol: 'A', cost: 2 });
    await s.fete.emit(topics.secretPing, { room: 'r' });
    // Markers sent after them on the same subscriptions: once they arrived, the others would have.
    await s.fete.emit(topics.price, { symbol: 'A', price: 1 });
    await s.fete.emit(topics.cursor, { room: 'r', x: 1 });
    await until(() => r.events.get('s0')?.length === 1 && r.events.get('s1')?.length === 1, 'the markers');
    expect(r.events.get('s0')!.map((e) => e.topic)).toEqual([topics.price.name]);
    expect(r.events.get('s1')!.map((e) => e.topic)).toEqual([topics.cursor.name]);
    // A pattern that can only match unexposed topics is refused, as for the log.
    expect(await r.sub('s2', 'prices.*.cost')).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
  });

  it('refuses durable listeners on volatile and latest topics with INVALID_OPTIONS; non-durable ones run in the emitting process', async () => {
    const s = await serve(engine);
    if (engine !== 'inline') {
      // @ts-expect-error a durable listener on a latest topic is refused by the type too
      expect(() => s.fete.on(topics.price, 'durable', () => undefined)).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
      // @ts-expect-error refused by the type too: the pattern matches only a latest topic
      expect(() => s.fete.on('prices.*', 'durable pattern', () => undefined)).toThrow(/only topics that are not in the log/);
      // A pattern that also matches log topics is fine: it gets their events.
      s.fete.on('rooms.>', 'durable rooms', () => undefined);
    }
    const seen: Envelope[] = [];
    s.fete.on(topics.price, 'cache', (_p, ctx) => void seen.push(ctx.envelope), { durable: false });
    s.fete.on(topics.cursor, 'trace', (_p, ctx) => void seen.push(ctx.envelope), { durable: false });
    await s.fete.emit(topics.price, { symbol: 'A', price: 1 });
    await s.fete.emit(topics.cursor, { room: 'r', x: 1 });
    await until(() => seen.length === 2, 'the listeners');
    expect(seen.map((e) => [e.topic, e.version, e.volatile])).toEqual([
      [topics.price.name, 1, undefined],
      [topics.cursor.name, undefined, true],
    ]);
  });

  it("a listener's ctx.emit of volatile and latest topics is sent only once its attempt succeeded", async () => {
    const s = await serve(engine);
    s.fete.on(
      topics.chat,
      'relay',
      async (chat, ctx) => {
        await ctx.emit(topics.cursor, { room: chat.room, x: ctx.attempt });
        await ctx.emit(topics.price, { symbol: 'R', price: ctx.attempt });
        if (ctx.attempt === 1) throw new Error('first attempt fails');
      },
      { retries: 2, backoff: { initialMs: 5, factor: 1, maxMs: 5, jitter: 0 } },
    );
    await s.fete.start();
    const r = raw(s);
    await r.connected();
    await r.sub('s0', 'rooms.*.cursor');
    await r.sub('s1', 'prices.*');
    await s.fete.emit(topics.chat, { room: 'r', text: 'go' });
    await until(() => r.events.get('s0')?.length === 1 && r.events.get('s1')?.length === 1, 'the second attempt\'s emits');
    await s.fete.waitIdle();
    expect(r.events.get('s0')!.map((e) => e.payload)).toEqual([{ room: 'r', x: 2 }]);
    expect(r.events.get('s1')!.map((e) => [e.version, e.payload])).toEqual([[1, { symbol: 'R', price: 2 }]]);
    expect((await s.fete.log.read(0)).events.map((e) => e.topic)).toEqual([topics.chat.name]);
  });

  it('a transaction publishes its live events only after it commits, and none when it rolls back', async () => {
    const s = await serve(engine);
    const r = raw(s);
    await r.connected();
    await r.sub('s0', '>');
    await expect(
      s.fete.transaction(async (tx) => {
        await tx.emit(topics.price, { symbol: 'A', price: 1 });
        await tx.emit(topics.cursor, { room: 'r', x: 1 });
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    await s.fete.transaction(async (tx) => {
      await tx.emit(topics.price, { symbol: 'A', price: 2 });
      await tx.emit(topics.cursor, { room: 'r', x: 2 });
      await tx.emit(topics.chat, { room: 'r', text: 'committed' });
    });
    await until(() => r.events.get('s0')?.length === 3, 'the committed events');
    expect(r.events.get('s0')!.map((e) => e.payload)).toEqual(expect.arrayContaining([{ symbol: 'A', price: 2 }, { room: 'r', x: 2 }, { room: 'r', text: 'committed' }]));
    expect((await s.fete.latest('prices.*')).map((e) => [e.version, e.payload])).toEqual([[1, { symbol: 'A', price: 2 }]]);
  });

  it('SSE streams the current latest values first, volatile events live, and tells a resume that volatile events were lost', async () => {
    const s = await serve(engine);
    await s.fete.emit(topics.price, { symbol: 'A', price: 1 });
    const chat = await s.fete.emit(topics.chat, { room: 'r', text: 'x' });
    const sse = await openSse(`${s.url}/fete/stream?pattern=>&from=earliest`);
    const first = await sse.take(2);
    // The snapshot and the replay race; both come, each once.
    expect(first.map((m) => m.event).sort()).toEqual([topics.price.name, topics.chat.name].sort());
    const price = first.find((m) => m.event === topics.price.name)!;
    expect(price.id).toBeUndefined();
    expect(JSON.parse(price.data).json).toMatchObject({ version: 1, payload: { price: 1 } });
    await s.fete.emit(topics.cursor, { room: 'r', x: 1 });
    const [cursor] = await sse.take(1);
    expect(cursor!.event).toBe(topics.cursor.name);
    expect(cursor!.id).toBeUndefined();
    expect(JSON.parse(cursor!.data).json).toMatchObject({ volatile: true, payload: { x: 1 } });
    sse.close();
    // EventSource's reconnect: Last-Event-ID is the log cursor; volatile events in between are lost.
    const resumed = await openSse(`${s.url}/fete/stream?pattern=rooms.>`, { 'last-event-id': `${s.fete.log.epoch}:${chat.seq}` });
    const [notice] = await resumed.take(1);
    expect(notice!.event).toBe('gap');
    expect(notice!.id).toBeUndefined();
    expect(JSON.parse(notice!.data)).toEqual({ reason: 'volatile', topics: [topics.cursor.name, topics.typing.name] });
    resumed.close();
  });
});

describe.each(engines)('the HTTP door (%s)', (engine) => {
  it('POST /emit of a clientEmit volatile topic reaches subscribers and stores nothing', async () => {
    const s = await serve(engine);
    const got: Envelope[] = [];
    await client(s, 'ann@t1').subscribe('rooms.*.typing', (e) => void got.push(e)).ready;
    const res = await fetch(`${s.url}/fete/emit`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-token': 'bo@t1' },
      body: JSON.stringify({ topic: topics.typing.name, payload: { room: 'r', who: 'bo' } }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { results: unknown[] }).results).toEqual([{ id: expect.any(String), status: 'accepted' }]);
    await until(() => got.length === 1, 'the typing event');
    expect(got[0]).toMatchObject({ volatile: true, payload: { room: 'r', who: 'bo' }, headers: { tenant: 't1' } });
    expect((await s.fete.log.read(0)).events).toEqual([]);
  });
});

/** Two fetes on one PostgreSQL schema (two processes of one deployment): volatile events and
 * latest changes emitted on `a` reach `b`'s subscribers, a new subscriber on `b` reads the values,
 * tenants hold. */
async function acrossTwoFetes(a: Served, b: Served): Promise<void> {
  const onB: Envelope[] = [];
  await client(b).subscribe('>', (e) => void onB.push(e)).ready;
  await a.fete.emit(topics.price, { symbol: 'A', price: 1 });
  await a.fete.emit(topics.cursor, { room: 'r', x: 1 });
  await until(() => onB.length === 2, 'the events from the other process');
  expect(onB.map((e) => [e.topic, e.version ?? null, e.volatile ?? null])).toEqual([
    [topics.price.name, 1, null],
    [topics.cursor.name, null, true],
  ]);
  // A new subscriber on b reads what a upserted.
  const late: Envelope[] = [];
  await client(b).subscribe('prices.*', (e) => void late.push(e)).ready;
  await until(() => late.length === 1, 'the current value');
  expect(prices(late)).toEqual([['prices.A', 1, 1]]);
  // Tenants hold across processes too.
  const t9: Envelope[] = [];
  await client(b, 'u@t9').subscribe('>', (e) => void t9.push(e)).ready;
  await a.fete.emit(topics.cursor, { room: 'r', x: 2 });
  await a.fete.emit(topics.cursor, { room: 'r', x: 3 }, { tenant: 't9' });
  await until(() => t9.length === 1 && onB.length === 3, 'the tenants\' events');
  expect(t9.map((e) => e.payload)).toEqual([{ room: 'r', x: 3 }]);
}

describe('SSE, a client too slow to read', () => {
  it('gets no volatile events while its response is backed up, then a volatile gap with the count before the next one', async () => {
    const s = await serve('inline');
    const sse = await openSse(`${s.url}/fete/stream?pattern=rooms.*.cursor`, {}, { paused: true });
    // 64 KiB each, unread: the response's buffers fill up within a few MiB.
    const pad = { note: 'n'.repeat(64 * 1024) };
    for (let x = 0; x < 300; x++) await s.fete.emit(topics.cursor, { room: 'r', x }, { headers: pad });
    sse.resume();
    await new Promise((resolve) => setTimeout(resolve, 200));
    await s.fete.emit(topics.cursor, { room: 'r', x: 1000 });
    const all = await sse.until((ms) => ms.some((m) => m.event === topics.cursor.name && JSON.parse(m.data).json.payload.x === 1000));
    const gap = all.find((m) => m.event === 'gap');
    expect(gap).toBeDefined();
    const { reason, dropped } = JSON.parse(gap!.data) as { reason: string; dropped: number };
    expect(reason).toBe('volatile');
    const xs = all.filter((m) => m.event === topics.cursor.name).map((m) => JSON.parse(m.data).json.payload.x as number);
    expect(xs.length - 1 + dropped).toBe(300);
    expect(all.indexOf(gap!)).toBe(all.length - 2); // right before the next event
  });
});

describe.runIf(availability.url !== undefined)('across two fetes on one PostgreSQL', () => {
  it('a latest change missed while the live channel was down reaches the subscriber once it is back, once', async () => {
    const schema = freshSchema('live3');
    const a = await serve('postgres', { schema });
    const b = await serve('postgres', { schema });
    const r = raw(b);
    await r.connected();
    await r.sub('s0', 'prices.*');
    await a.fete.emit(topics.price, { symbol: 'A', price: 1 });
    await until(() => r.events.get('s0')?.length === 1, 'the first value');
    // b's LISTEN connection for live messages dies; a's change is notified while b is not listening.
    const pool = new pg.Pool({ connectionString: availability.url! });
    try {
      const killed = await pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1`, [`LISTEN "fete_${schema}_live"`]);
      expect(killed.rowCount).toBe(2); // a's and b's
      await a.fete.emit(topics.price, { symbol: 'A', price: 2 });
      await until(() => r.events.get('s0')?.length === 2, 'the missed change, after the re-LISTEN');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(r.events.get('s0')!.map((e) => [e.version, (e.payload as { price: number }).price])).toEqual([
        [1, 1],
        [2, 2],
      ]);
    } finally {
      await pool.end();
    }
  });

  it('volatile events and latest changes emitted on one reach subscribers of the other, and its new subscribers read the values', async () => {
    const schema = freshSchema('live2');
    await acrossTwoFetes(await serve('postgres', { schema }), await serve('postgres', { schema }));
  });

  it('an event too large for NOTIFY is refused at the emit with LIVE_TOO_LARGE, and nothing is stored or sent', async () => {
    const s = await serve('postgres');
    const r = raw(s);
    await r.connected();
    await r.sub('s0', '>');
    // Far below the log's 1 MiB envelope limit, over NOTIFY's 8000 bytes.
    const pad = { note: 'n'.repeat(8000) };
    const volatile = await s.fete.emit(topics.cursor, { room: 'r', x: 1 }, { headers: pad }).catch((e: unknown) => e);
    expect(volatile).toBeInstanceOf(FeteError);
    expect(volatile).toMatchObject({ code: 'LIVE_TOO_LARGE', retryable: false });
    const latest = await s.fete.emit(topics.price, { symbol: 'A', price: 1 }, { headers: pad }).catch((e: unknown) => e);
    expect(latest).toMatchObject({ code: 'LIVE_TOO_LARGE' });
    expect(await s.fete.latest('prices.*')).toEqual([]);
    // The same events at a normal size go through.
    await s.fete.emit(topics.price, { symbol: 'A', price: 1 }, { headers: { note: 'n'.repeat(7000) } });
    await until(() => r.events.get('s0')?.length === 1, 'the event that fits');
    expect(r.events.get('s0')!.map((e) => e.payload)).toEqual([{ symbol: 'A', price: 1 }]);
  });
});

describe.runIf(availability.url !== undefined && nats.url !== undefined)('across two fetes with the NATS bus', () => {
  it('volatile events and latest changes travel on NATS between the fetes, tenants hold', async () => {
    const schema = freshSchema('live4');
    const bus = { nats: nats.url! };
    const a = await serve('postgres', { schema, bus });
    const b = await serve('postgres', { schema, bus });
    expect(a.fanout.stats().bus).toBeDefined();
    // Nothing of it went through PostgreSQL: the schema's live channel (every node listens there,
    // for when NATS is away: server/bus/fallback-live-channel.ts) carried no notification.
    const listener = new pg.Client({ connectionString: availability.url! });
    await listener.connect();
    const notified: string[] = [];
    listener.on('notification', (n) => void notified.push(n.payload ?? ''));
    try {
      await listener.query(`LISTEN "fete_${schema}_live"`);
      await acrossTwoFetes(a, b);
      await listener.query('SELECT 1'); // notifications sent before it are delivered by now
      expect(notified).toEqual([]);
      // The channel listened to is the nodes' own (a's and b's LISTEN connections).
      const listening = await listener.query(`SELECT 1 FROM pg_stat_activity WHERE query = $1`, [`LISTEN "fete_${schema}_live"`]);
      expect(listening.rowCount).toBe(2);
    } finally {
      await listener.end();
    }
  });
});

describe.runIf(availability.url !== undefined)('across OS processes on one PostgreSQL', () => {
  it("another process's volatile events and latest changes reach this one's subscribers, and its values are read by new ones, each version once", async () => {
    const schema = freshSchema('livep');
    const s = await serve('postgres', { schema });
    const child = new IpcChild<LiveChildCommand, LiveChildReply>(new URL('./live-emitter-child.ts', import.meta.url).pathname, [JSON.stringify({ url: availability.url!, schema })], {
      label: 'live emitter',
    });
    try {
      await child.next('ready', 60_000);
      const got: Envelope[] = [];
      await client(s).subscribe('>', (e) => void got.push(e)).ready;
      child.send({
        type: 'emit',
        items: [
          { topic: 'price', payload: { symbol: 'A', price: 1 } },
          { topic: 'cursor', payload: { room: 'r', x: 1 } },
          { topic: 'cursor', payload: { room: 'r', x: 9 }, tenant: 'other' },
        ],
      });
      expect((await child.next('emitted')).versions).toEqual([1, null, null]);
      await until(() => got.length === 2, "the other process's events");
      expect(got.map((e) => [e.topic, e.version ?? null, e.volatile ?? null, e.payload])).toEqual([
        [topics.price.name, 1, null, { symbol: 'A', price: 1 }],
        [topics.cursor.name, null, true, { room: 'r', x: 1 }],
      ]);
      // Changes written by the other process while a subscription here starts: once each, in
      // version order, ending at the last one (snapshot and NOTIFY race; versions decide).
      const r = raw(s);
      await r.connected();
      const n = 40;
      child.send({ type: 'emit', items: Array.from({ length: n }, (_, i) => ({ topic: 'price' as const, payload: { symbol: 'A', price: 100 + i } })) });
      expect(await r.sub('s0', 'prices.*')).toMatchObject({ ok: true });
      await child.next('emitted');
      await until(() => r.events.get('s0')?.at(-1)?.version === n + 1, 'the last version');
      const versions = r.events.get('s0')!.map((e) => e.version!);
      for (let i = 1; i < versions.length; i++) expect(versions[i]!).toBeGreaterThan(versions[i - 1]!);
      expect(r.events.get('s0')!.at(-1)!.payload).toEqual({ symbol: 'A', price: 100 + n - 1 });
    } finally {
      child.send({ type: 'stop' });
      await child.kill(10_000);
    }
  }, 120_000);
});

/** A Server-Sent Events reader over fetch: messages with their `event`, `id` and `data`.
 * `paused`: nothing is read until `resume()` (a slow client). */
async function openSse(url: string, headers: Record<string, string> = {}, { paused = false } = {}) {
  const abort = new AbortController();
  const res = await fetch(url, { headers, signal: abort.signal });
  if (res.status !== 200) throw new Error(`SSE ${res.status}: ${await res.text()}`);
  const messages: Array<SseMessage & { data: string }> = [];
  let resume!: () => void;
  const resumed = paused ? new Promise<void>((r) => (resume = r)) : Promise.resolve();
  const pump = (async () => {
    await resumed;
    await readSseBlocks(res.body!, (block) => {
      const m = parseSseMessage(block);
      if (m.data !== undefined) messages.push(m as SseMessage & { data: string });
    });
  })().catch(() => undefined); // aborted
  let taken = 0;
  return {
    async take(n: number) {
      await until(() => messages.length >= taken + n, `${n} SSE messages`);
      const out = messages.slice(taken, taken + n);
      taken += n;
      return out;
    },
    resume: () => resume(),
    /** Waits until `check` holds for every message so far; returns them. */
    async until(check: (ms: typeof messages) => boolean) {
      await until(() => check(messages), 'the SSE messages');
      return messages.slice();
    },
    close() {
      abort.abort();
      void pump;
    },
  };
}
