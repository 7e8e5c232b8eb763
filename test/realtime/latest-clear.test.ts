// Latest values that are cleared (`fete.clearLatest`) or expire (a topic's `ttlMs`), end to end on
// every engine (dispatch 'inline', PGlite, PostgreSQL): real Socket.IO, the real client, SSE over
// fetch; between two fetes on one PostgreSQL schema (NOTIFY) and over the NATS bus.
// - current subscribers of a matching pattern are told (`clr`, `event: cleared`, `onCleared`), in
//   order with the values; new subscribers no longer get the value; a later value comes after it;
// - a clear of a subject without a value is a no-op; clears are scoped by tenant;
// - a resume is told of the clears made while it was away (tombstones);
// - ttlMs is validated at defineTopic.
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import type { Client } from '../../client/index.js';
import { type ClrPacket, type Envelope, FeteError, type LatestCleared, defineTopic, defineTopics } from '../../shared/index.js';
import { memoryLatest } from '../../server/live/latest-store.js';
import { freshSchema, postgresAvailability } from '../support/postgres.js';
import { natsAvailability } from '../multinode/nats.js';
import { type RawClient, until } from './support.js';
import { readSseBlocks } from '../support/sse-blocks.js';
import { type Served as LiveServed, liveHarness, tokenSecurity } from './live-harness.js';

const availability = await postgresAvailability();
const nats = await natsAvailability();
if (availability.skipReason) console.log(`latest-clear: PostgreSQL cases skipped: ${availability.skipReason}`);

const topics = defineTopics({
  // The courier's position of an order: cleared when the order is delivered.
  position: defineTopic('orders.{orderId}.position', { kind: 'presentation', delivery: 'latest', schema: z.object({ orderId: z.string(), lat: z.number() }) }),
  // An ETA that is stale after a while.
  eta: defineTopic('orders.{orderId}.eta', { kind: 'presentation', delivery: 'latest', ttlMs: 400, schema: z.object({ orderId: z.string(), minutes: z.number() }) }),
  // Long-lived: expired by hand in the store (the sweep of a 60 s ttl runs every 5 s).
  note: defineTopic('orders.{orderId}.note', { kind: 'presentation', delivery: 'latest', ttlMs: 60_000, schema: z.object({ orderId: z.string(), text: z.string() }) }),
  chat: defineTopic('orders.{orderId}.chat', { kind: 'presentation', schema: z.object({ orderId: z.string(), text: z.string() }) }),
});
type Topics = typeof topics;

const h = liveHarness(topics, { postgresUrl: availability.url, security: tokenSecurity, schemaPrefix: 'lclr' });
const { engines, serve, client } = h;
type Served = LiveServed<Topics>;

/** What a client subscription sees, values and removals in one list, in the order the app got them. */
function watch(c: Client<Topics>, pattern: string) {
  const seen: Array<Envelope | LatestCleared> = [];
  const sub = c.subscribe(pattern as 'orders.>', (e) => void seen.push(e), { onCleared: (n) => void seen.push(n) });
  return { seen, sub };
}
const isRemoval = (x: Envelope | LatestCleared): x is LatestCleared => 'reason' in x;
const show = (xs: ReadonlyArray<Envelope | LatestCleared>) =>
  xs.map((x) => (isRemoval(x) ? ['removed', x.subject, x.version, x.reason] : ['value', x.subject, x.version]));

/** A raw socket that records `clr` packets too. */
function raw(s: Served, token?: string): RawClient & { clears: ClrPacket[] } {
  const r = h.raw(s, token) as RawClient & { clears: ClrPacket[] };
  r.clears = [];
  r.socket.on('clr', (p: ClrPacket) => void r.clears.push(p));
  return r;
}

/** An SSE stream's messages (`event` and `data` of each block that has data), closed after the test. */
async function openSse(url: string, headers: Record<string, string> = {}) {
  const abort = new AbortController();
  const res = await fetch(url, { headers, signal: abort.signal });
  if (res.status !== 200) throw new Error(`SSE ${res.status}: ${await res.text()}`);
  const messages: Array<{ event?: string; data: string }> = [];
  readSseBlocks(res.body!, (block) => {
    const m: { event?: string; data: string } = { data: '' };
    let isEvent = false;
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) m.event = line.slice(7);
      else if (line.startsWith('data: ')) (m.data = line.slice(6)), (isEvent = true);
    }
    if (isEvent) messages.push(m);
  }).catch(() => undefined); // aborted at the end of the test
  return h.closeAfter({ messages, close: () => abort.abort() });
}

/** Makes every value of the served store's `latest` table past its expiry (as if its ttl passed). */
async function expireInStore(s: Served): Promise<void> {
  await h.sql(s, `UPDATE "${s.schema}".latest SET expires_at = now() - interval '1 second' WHERE expires_at IS NOT NULL`);
}

describe.each(engines)('clearing latest values (%s)', (engine) => {
  it('a clear tells every current subscriber (client, Socket.IO, SSE) after the value, and new subscribers no longer get it', async () => {
    const s = await serve(engine);
    await s.fete.emit(topics.position, { orderId: 'o1', lat: 1 });
    await s.fete.emit(topics.position, { orderId: 'o2', lat: 2 });
    const { seen, sub } = watch(client(s), 'orders.*.position');
    await sub.ready;
    const r = raw(s);
    await r.connected();
    await r.sub('s0', 'orders.>');
    const sse = await openSse(`${s.url}/fete/stream?pattern=orders.>`);
    await until(() => sse.messages.length === 2 && seen.length === 2, 'the current values');

    expect(await s.fete.clearLatest(topics.position, { orderId: 'o1' })).toEqual({ cleared: true, version: 2 });
    const removal = { topic: topics.position.name, subject: 'orders.o1.position', version: 2, reason: 'cleared' };
    await until(() => seen.length === 3 && r.clears.length === 1 && sse.messages.length === 3, 'the removal on every door');
    expect(show(seen)).toEqual([
      ['value', 'orders.o1.position', 1],
      ['value', 'orders.o2.position', 1],
      ['removed', 'orders.o1.position', 2, 'cleared'],
    ]);
    expect(seen[2]).toEqual(removal);
    expect(r.clears).toEqual([{ sid: 's0', ...removal }]);
    expect(sse.messages[2]).toEqual({ event: 'cleared', data: JSON.stringify(removal) });

    // New subscribers get o2 only; fete.latest agrees.
    const late = watch(client(s), 'orders.*.position');
    await late.sub.ready;
    await until(() => late.seen.length === 1, 'the remaining value');
    expect(show(late.seen)).toEqual([['value', 'orders.o2.position', 1]]);
    expect((await s.fete.latest('orders.*.position')).map((e) => e.subject)).toEqual(['orders.o2.position']);

    // A new value of the cleared subject comes after the removal, at the next version.
    expect(await s.fete.emit(topics.position, { orderId: 'o1', lat: 5 })).toMatchObject({ version: 3 });
    await until(() => seen.length === 4 && late.seen.length === 2, 'the new value');
    expect(show(seen.slice(3))).toEqual([['value', 'orders.o1.position', 3]]);
    expect(show(late.seen.slice(1))).toEqual([['value', 'orders.o1.position', 3]]);
  });

  it('a clear of a subject without a value is a no-op, and so is a second clear', async () => {
    const s = await serve(engine);
    const r = raw(s);
    await r.connected();
    await r.sub('s0', 'orders.>');
    expect(await s.fete.clearLatest(topics.position, { orderId: 'never' })).toEqual({ cleared: false });
    await s.fete.emit(topics.position, { orderId: 'o1', lat: 1 });
    expect(await s.fete.clearLatest(topics.position, { orderId: 'o1' })).toEqual({ cleared: true, version: 2 });
    expect(await s.fete.clearLatest(topics.position, { orderId: 'o1' })).toEqual({ cleared: false });
    await until(() => r.clears.length === 1, 'the one removal');
    // A chat event after it: had a second removal been sent, it would have come before it.
    await s.fete.emit(topics.chat, { orderId: 'o1', text: 'x' });
    await until(() => r.events.get('s0')?.some((e) => e.topic === topics.chat.name), 'the chat event');
    expect(r.clears).toHaveLength(1);
  });

  it('clears are scoped by tenant: another tenant keeps its value and hears nothing', async () => {
    const s = await serve(engine);
    await s.fete.emit(topics.position, { orderId: 'o1', lat: 1 }, { tenant: 't1' });
    await s.fete.emit(topics.position, { orderId: 'o1', lat: 2 }, { tenant: 't2' });
    const t1 = watch(client(s, 'ann@t1'), 'orders.>');
    const t2 = watch(client(s, 'bob@t2'), 'orders.>');
    await Promise.all([t1.sub.ready, t2.sub.ready]);
    await until(() => t1.seen.length === 1 && t2.seen.length === 1, 'the values');
    // The default tenant has no value there: a no-op.
    expect(await s.fete.clearLatest(topics.position, { orderId: 'o1' })).toEqual({ cleared: false });
    expect(await s.fete.clearLatest(topics.position, { orderId: 'o1' }, { tenant: 't1' })).toEqual({ cleared: true, version: 2 });
    await until(() => t1.seen.length === 2, "t1's removal");
    // t2 then gets a new value: nothing came before it.
    await s.fete.emit(topics.position, { orderId: 'o1', lat: 3 }, { tenant: 't2' });
    await until(() => t2.seen.length === 2, "t2's change");
    expect(show(t2.seen)).toEqual([
      ['value', 'orders.o1.position', 1],
      ['value', 'orders.o1.position', 2],
    ]);
    expect((await s.fete.latest('orders.>', { tenant: 't2' })).map((e) => e.payload)).toEqual([{ orderId: 'o1', lat: 3 }]);
    expect(await s.fete.latest('orders.>', { tenant: 't1' })).toEqual([]);
  });

  it('refuses a topic that is not latest (INVALID_OPTIONS) and a missing parameter (INVALID_PAYLOAD)', async () => {
    const s = await serve(engine);
    // @ts-expect-error a log topic keeps no value
    await expect(s.fete.clearLatest(topics.chat, { orderId: 'o1' })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    // @ts-expect-error orderId is required
    await expect(s.fete.clearLatest(topics.position, {})).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
    await expect(s.fete.clearLatest(topics.position, { orderId: 'a.b' })).rejects.toBeInstanceOf(FeteError);
  });

  it('a resume is told of the values cleared while it was away; a fresh subscription is not', async () => {
    const s = await serve(engine);
    await s.fete.emit(topics.position, { orderId: 'o1', lat: 1 });
    await s.fete.emit(topics.chat, { orderId: 'o1', text: 'hello' });
    const r = raw(s);
    await r.connected();
    const ack = await r.sub('s0', 'orders.>');
    if (!ack.ok) throw new Error('refused');
    await until(() => r.events.get('s0')?.length === 1, 'the value');
    r.close();
    await s.fete.clearLatest(topics.position, { orderId: 'o1' });
    const back = raw(s);
    await back.connected();
    await back.sub('s1', 'orders.>', `${ack.epoch}:${ack.cursor}`);
    await back.sub('s2', 'orders.>');
    await until(() => back.clears.length === 1, 'the tombstone');
    expect(back.clears).toEqual([{ sid: 's1', topic: topics.position.name, subject: 'orders.o1.position', version: 2, reason: 'cleared' }]);
    // The client, after a reconnect, hands it over once (it held version 1).
    const c = client(s);
    await s.fete.emit(topics.position, { orderId: 'o2', lat: 1 });
    const w = watch(c, 'orders.*.position');
    await w.sub.ready;
    await until(() => w.seen.length === 1, 'the value');
    s.fanout.io.of('/fete').disconnectSockets(true);
    await s.fete.clearLatest(topics.position, { orderId: 'o2' });
    await until(() => w.seen.length === 2, 'the removal');
    await s.fete.emit(topics.chat, { orderId: 'o1', text: 'after' });
    await s.fete.emit(topics.position, { orderId: 'o2', lat: 9 });
    await until(() => w.seen.length === 3, 'the next value');
    expect(show(w.seen)).toEqual([
      ['value', 'orders.o2.position', 1],
      ['removed', 'orders.o2.position', 2, 'cleared'],
      ['value', 'orders.o2.position', 3],
    ]);
  });
});

describe.each(engines)('resuming after removals made before the cursor (%s)', (engine) => {
  // Found by probe2: a resume read every tombstone of its pattern, ever, and tombstones were never
  // pruned, so each reconnect (EventSource retries every 2 s on any blip) was sent one `cleared` per
  // subject removed since the store began. Removals are now stamped with the log's position once
  // settled (retention.graceMs after them: here 0, settled by fete.prune()), a resume is sent only
  // those at or after its cursor, and tombstones are pruned (latest-removals.test.ts).
  it('a resume from a cursor taken after the removals is not told of them again', async () => {
    const s = await serve(engine, { retention: { graceMs: 0 } });
    const N = 200;
    for (let i = 0; i < N; i++) {
      await s.fete.emit(topics.position, { orderId: `old${i}`, lat: i });
      await s.fete.clearLatest(topics.position, { orderId: `old${i}` });
    }
    await s.fete.prune(); // settles them (and prunes none: they are kept for a day)
    // The reader's cursor: after every removal above.
    const { seq } = await s.fete.emit(topics.chat, { orderId: 'o1', text: 'mark' });
    const sse = await openSse(`${s.url}/fete/stream?pattern=orders.>`, { 'last-event-id': String(seq) });
    await s.fete.emit(topics.position, { orderId: 'new', lat: 1 });
    await until(() => sse.messages.some((m) => m.event === topics.position.name), 'the new value');
    expect(sse.messages.filter((m) => m.event === 'cleared')).toHaveLength(0);
  });
});

describe.each(engines)('expiring latest values (%s)', (engine) => {
  it('a value past its ttlMs is removed by the sweep and current subscribers are told (expired); new ones do not get it', async () => {
    const s = await serve(engine);
    const w = watch(client(s), 'orders.*.eta');
    await w.sub.ready;
    const sse = await openSse(`${s.url}/fete/stream?pattern=orders.*.eta`);
    await s.fete.emit(topics.eta, { orderId: 'o1', minutes: 12 });
    await until(() => w.seen.length === 2 && sse.messages.length === 2, 'the value, then its expiry');
    expect(show(w.seen)).toEqual([
      ['value', 'orders.o1.eta', 1],
      ['removed', 'orders.o1.eta', 2, 'expired'],
    ]);
    expect(sse.messages[1]).toEqual({ event: 'cleared', data: JSON.stringify({ topic: topics.eta.name, subject: 'orders.o1.eta', version: 2, reason: 'expired' }) });
    const late = watch(client(s), 'orders.*.eta');
    await late.sub.ready;
    expect(late.seen).toEqual([]);
    expect(await s.fete.latest('orders.*.eta')).toEqual([]);
  });

  it.runIf(engine !== 'inline')('a value past its expiry is not read by new subscribers even before the sweep', async () => {
    const s = await serve(engine);
    await s.fete.emit(topics.note, { orderId: 'o1', text: 'ring twice' });
    await s.fete.emit(topics.position, { orderId: 'o1', lat: 1 });
    expect(await s.fete.latest('orders.o1.*')).toHaveLength(2);
    await expireInStore(s);
    expect((await s.fete.latest('orders.o1.*')).map((e) => e.topic)).toEqual([topics.position.name]);
    const w = watch(client(s), 'orders.o1.*');
    await w.sub.ready;
    expect(show(w.seen)).toEqual([['value', 'orders.o1.position', 1]]);
  });
});

describe('resuming in a new client from a stored cursor', () => {
  // Found by probe2: the client dropped every `clr` of a subject its subscription had not handed a
  // value of, and a new client (a reload) has handed none, so onCleared was never called on a
  // resume from a stored cursor. A subscription started from a cursor now hands them over.
  it('is told of a value removed while it was away', async () => {
    const s = await serve('inline');
    await s.fete.emit(topics.position, { orderId: 'o1', lat: 1 });
    const first = client(s);
    const seen = watch(first, 'orders.*.position');
    await seen.sub.ready;
    await until(() => seen.seen.length === 1, 'the value');
    await s.fete.emit(topics.chat, { orderId: 'o1', text: 'a log event, for a cursor' });
    const sub0 = first.subscribe('orders.>', () => undefined);
    await until(() => sub0.cursor !== undefined && sub0.cursor.endsWith(':1'), 'a cursor after the chat event');
    const stored = sub0.cursor!;
    await first.close();
    await s.fete.clearLatest(topics.position, { orderId: 'o1' });
    // After a reload: a new client, resuming from the stored cursor.
    const removals: LatestCleared[] = [];
    const again = client(s).subscribe('orders.>', () => undefined, { from: stored, onCleared: (n) => void removals.push(n) });
    await again.ready;
    await s.fete.emit(topics.chat, { orderId: 'o1', text: 'after' });
    await until(() => again.cursor !== undefined && !again.cursor.endsWith(':1'), 'the next log event');
    expect(removals.map((r) => [r.subject, r.reason])).toEqual([['orders.o1.position', 'cleared']]);
  });
});

describe('clearing a value past its expiry before the sweep', () => {
  // Found by probe2: a clear removed a value already past its expiry but not yet swept, answering
  // { cleared: true } and telling subscribers 'cleared'. The expiry is now the sweep's alone.
  it('the memory store answers no value for a subject past its expiry', async () => {
    let now = 1_000;
    const store = memoryLatest(() => 100, () => now);
    await store.upsert([{ id: '1', topic: 'eta', subject: 'a', time: '', headers: {}, payload: 1, context: {} }]);
    now += 100;
    expect(await store.clear('', 'eta', 'a')).toBeUndefined();
  });

  it.each(engines.filter((e) => e !== 'inline'))('clearLatest answers { cleared: false } for a value past its expiry (%s)', async (engine) => {
    const s = await serve(engine);
    await s.fete.emit(topics.note, { orderId: 'o1', text: 'ring twice' });
    await expireInStore(s);
    expect(await s.fete.clearLatest(topics.note, { orderId: 'o1' })).toEqual({ cleared: false });
  });
});

describe('the in-memory latest store', () => {
  it('keeps a tombstone at the next version, skips expired values, and sweeps each expiry once', async () => {
    let now = 1_000;
    const store = memoryLatest((t) => (t === 'eta' ? 100 : undefined), () => now);
    const value = (topic: string, subject: string, id: string) => ({ id, topic, subject, time: '', headers: {}, payload: 1, context: {} });
    expect(await store.upsert([value('eta', 'a', '1'), value('pos', 'b', '2')])).toEqual([1, 1]);
    const q = { tenant: '', pattern: '>', topics: ['eta', 'pos'], limit: 10 };
    expect((await store.page(q)).map((e) => e.subject)).toEqual(['a', 'b']);
    now += 100;
    expect((await store.page(q)).map((e) => e.subject)).toEqual(['b']);
    expect(await store.sweep(10)).toEqual([{ tenant: '', topic: 'eta', subject: 'a', version: 2, reason: 'expired' }]);
    expect(await store.sweep(10)).toEqual([]);
    expect(await store.clear('', 'pos', 'b')).toEqual({ tenant: '', topic: 'pos', subject: 'b', version: 2, reason: 'cleared' });
    expect(await store.clear('', 'pos', 'b')).toBeUndefined();
    expect(await store.tombstones(q)).toEqual([
      { topic: 'eta', subject: 'a', version: 2, reason: 'expired' },
      { topic: 'pos', subject: 'b', version: 2, reason: 'cleared' },
    ]);
    expect(await store.upsert([value('pos', 'b', '3')])).toEqual([3]);
    expect(await store.tombstones(q)).toHaveLength(1);
  });
});

describe('ttlMs at defineTopic', () => {
  it.each([0, -5, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '100', null])('refuses ttlMs %s with INVALID_TOPIC', (ttlMs) => {
    const define = () => defineTopic('x.{id}', { kind: 'presentation', delivery: 'latest', ttlMs: ttlMs as number });
    expect(define).toThrow(FeteError);
    expect(define).toThrow(expect.objectContaining({ code: 'INVALID_TOPIC' }));
  });

  it('refuses ttlMs on a topic that is not latest, and keeps it on a latest one', () => {
    expect(() => defineTopic('x.{id}', { kind: 'presentation', ttlMs: 10 })).toThrow(expect.objectContaining({ code: 'INVALID_TOPIC' }));
    expect(() => defineTopic('x.{id}', { kind: 'presentation', delivery: 'volatile', ttlMs: 10 })).toThrow(expect.objectContaining({ code: 'INVALID_TOPIC' }));
    expect(defineTopic('x.{id}', { kind: 'presentation', delivery: 'latest', ttlMs: 10 }).ttlMs).toBe(10);
    expect(defineTopic('x.{id}', { kind: 'presentation', delivery: 'latest' }).ttlMs).toBeUndefined();
  });
});

describe('SSE event names of removals and gaps', () => {
  // Found by probe2: SSE names an event by its topic and fete's notices `gap` and `cleared`, so a
  // topic with one of those names could not be told from them. defineTopic refuses them (and
  // `message`, EventSource's default event).
  it.each(['cleared', 'gap', 'message'])('refuses a topic named %s, which SSE could not tell from its notice', (name) => {
    expect(() => defineTopic(name, { kind: 'presentation' })).toThrow(expect.objectContaining({ code: 'INVALID_TOPIC' }));
  });
});

/** a clears and a's values expire; b's subscribers are told. */
async function acrossTwoFetes(a: Served, b: Served): Promise<void> {
  await a.fete.emit(topics.position, { orderId: 'o1', lat: 1 });
  const onB = watch(client(b), 'orders.>');
  await onB.sub.ready;
  await until(() => onB.seen.length === 1, 'the value from the other process');
  const sse = await openSse(`${b.url}/fete/stream?pattern=orders.>`);
  await until(() => sse.messages.length === 1, 'the value over SSE');
  await a.fete.clearLatest(topics.position, { orderId: 'o1' });
  await a.fete.emit(topics.eta, { orderId: 'o1', minutes: 3 });
  await until(() => onB.seen.filter(isRemoval).length === 2 && sse.messages.filter((m) => m.event === 'cleared').length === 2, 'the removal and the expiry');
  expect(show(onB.seen)).toEqual([
    ['value', 'orders.o1.position', 1],
    ['removed', 'orders.o1.position', 2, 'cleared'],
    ['value', 'orders.o1.eta', 1],
    ['removed', 'orders.o1.eta', 2, 'expired'],
  ]);
  // Tenants hold across processes.
  const t9 = watch(client(b, 'u@t9'), 'orders.>');
  await t9.sub.ready;
  await a.fete.emit(topics.position, { orderId: 'o2', lat: 1 });
  await a.fete.emit(topics.position, { orderId: 'o2', lat: 1 }, { tenant: 't9' });
  await a.fete.clearLatest(topics.position, { orderId: 'o2' });
  await a.fete.emit(topics.chat, { orderId: 'o2', text: 'done' }, { tenant: 't9' });
  await until(() => t9.seen.length === 2, "t9's value and chat");
  expect(t9.seen.filter(isRemoval)).toEqual([]);
}

describe.runIf(availability.url !== undefined)('across two fetes on one PostgreSQL schema', () => {
  it('clears and expiries made by one fete reach the subscribers of the other', async () => {
    const schema = freshSchema('lclr2');
    await acrossTwoFetes(await serve('postgres', { schema }), await serve('postgres', { schema }));
  });
});

describe.runIf(availability.url !== undefined && nats.url !== undefined)('across two fetes with the NATS bus', () => {
  it('clears and expiries travel on the live channel of the bus', async () => {
    const schema = freshSchema('lclr3');
    const bus = { nats: nats.url! };
    await acrossTwoFetes(await serve('postgres', { schema, bus }), await serve('postgres', { schema, bus }));
  });
});
