// Removals of latest values bounded in time (server/sql/013_latest_removals.sql, live/latest-clears.ts,
// live/live-hub.ts), end to end on every engine (dispatch 'inline', PGlite, PostgreSQL) with real
// Socket.IO, the real client and SSE over fetch:
// - a removal is told to every resume until it settles (`retention.graceMs` after it), then only to
//   resumes from a cursor at or below the log position it settled at: a removal racing a resume
//   (the client has an event committed after it, but not the notice) is never lost;
// - tombstones older than `retention.removalsMs` are pruned (fete.prune(), and the periodic pass),
//   per tenant; a subject revived after its tombstone was pruned keeps growing versions;
// - a resume older than what was pruned is told its snapshot is complete (a `removals` gap, SSE
//   `event: gap`), and the client drops the values it held that the snapshot did not restate.
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import type { Client, Gap } from '../../client/index.js';
import { type Envelope, type LatestCleared, defineTopic, defineTopics } from '../../shared/index.js';
import type { SecurityOptions } from '../../server/security/security-options.js';
import { freshSchema, postgresAvailability } from '../support/postgres.js';
import { natsAvailability } from '../multinode/nats.js';
import { readSseBlocks } from '../support/sse-blocks.js';
import { until } from './support.js';
import { type Served as LiveServed, liveHarness, tokenSecurity } from './live-harness.js';

const availability = await postgresAvailability();
const nats = await natsAvailability();
if (availability.skipReason) console.log(`latest-removals: PostgreSQL cases skipped: ${availability.skipReason}`);

const topics = defineTopics({
  position: defineTopic('orders.{orderId}.position', { kind: 'presentation', delivery: 'latest', schema: z.object({ orderId: z.string(), lat: z.number() }) }),
  chat: defineTopic('orders.{orderId}.chat', { kind: 'presentation', schema: z.object({ orderId: z.string(), text: z.string() }) }),
});
type Topics = typeof topics;
type Served = LiveServed<Topics>;

/** Connections (new ones and reconnects) wait while `hold` is pending: the client stays offline. */
let hold: Promise<void> | undefined;
type User = { id: string; tenant: string };
const authenticate = tokenSecurity.auth as Exclude<SecurityOptions<User>['auth'], 'anonymous' | undefined>;
const security: SecurityOptions<User> = {
  ...tokenSecurity,
  auth: async (req) => {
    await hold;
    return authenticate(req);
  },
};

const h = liveHarness(topics, { postgresUrl: availability.url, security, schemaPrefix: 'lrem' });
const { engines, serve, client } = h;

/** Values, removals and gaps of one client subscription, in the order the app got them. */
function watch(c: Client<Topics>, pattern: string) {
  const seen: Array<Envelope | LatestCleared> = [];
  const gaps: Gap[] = [];
  const sub = c.subscribe(pattern as 'orders.>', (e) => void seen.push(e), { onCleared: (n) => void seen.push(n), onGap: (g) => void gaps.push(g) });
  return { seen, gaps, sub };
}
const show = (xs: ReadonlyArray<Envelope | LatestCleared>) =>
  xs.flatMap((x) => ('reason' in x ? [['removed', x.subject, x.version, x.reason]] : x.version !== undefined ? [['value', x.subject, x.version]] : []));

/** A raw socket resuming `pattern` from `from`: its packets in arrival order. */
async function rawResume(s: Served, from: string) {
  const r = h.raw(s);
  const packets: unknown[][] = [];
  r.socket.on('evs', (p: { es: Array<{ json: Envelope }> }) => p.es.forEach((e) => packets.push(['value', e.json.subject, e.json.version ?? e.json.seq])));
  r.socket.on('ev', (p: { e: { json: Envelope } }) => packets.push(['value', p.e.json.subject, p.e.json.version ?? p.e.json.seq]));
  r.socket.on('clr', (p: LatestCleared) => packets.push(['removed', p.subject, p.version, p.reason]));
  r.socket.on('gap', (p: { reason: string }) => packets.push(['gap', p.reason]));
  await r.connected();
  const ack = await r.sub('s1', 'orders.>', from);
  if (!ack.ok) throw new Error(`refused: ${ack.error.message}`);
  return packets;
}

/** An SSE stream resuming after `lastEventId`: its `event` and `data` lines, until `done` is true. */
async function sseResume(s: Served, lastEventId: string, done: (m: Array<{ event: string; data: string }>) => boolean) {
  const abort = h.closeAfter(new AbortController() as AbortController & { close(): void });
  abort.close = () => abort.abort();
  const res = await fetch(`${s.url}/fete/stream?pattern=orders.>`, { headers: { 'last-event-id': lastEventId }, signal: abort.signal });
  const messages: Array<{ event: string; data: string }> = [];
  readSseBlocks(res.body!, (block) => {
    const event = /^event: (.*)$/m.exec(block)?.[1];
    const data = /^data: (.*)$/m.exec(block)?.[1];
    if (event !== undefined && data !== undefined) messages.push({ event, data });
  }).catch(() => undefined);
  await until(() => done(messages), 'the SSE messages');
  return messages;
}

/** A log event on `orders.<id>.chat`: its seq and the cursor after it. */
async function mark(s: Served, text: string) {
  const { seq } = await s.fete.emit(topics.chat, { orderId: 'o1', text });
  return { seq: seq!, cursor: `${s.fete.log.epoch}:${seq}` };
}

describe.each(engines)('settling removals (%s)', (engine) => {
  it('a removal racing a resume is not lost: a cursor after it, before it settled, is still told', async () => {
    // Default grace (10 s): nothing settles during the test, fete.prune() included.
    const s = await serve(engine);
    await s.fete.emit(topics.position, { orderId: 'o1', lat: 1 });
    await s.fete.clearLatest(topics.position, { orderId: 'o1' });
    // The client got this event (committed after the removal) but not the removal's notice.
    const after = await mark(s, 'after the removal');
    await s.fete.prune();
    const packets = await rawResume(s, after.cursor);
    await until(() => packets.length === 1, 'the removal');
    expect(packets).toEqual([['removed', 'orders.o1.position', 2, 'cleared']]);
    const sse = await sseResume(s, String(after.seq), (m) => m.some((x) => x.event === 'cleared'));
    expect(sse.filter((m) => m.event === 'cleared').map((m) => JSON.parse(m.data) as LatestCleared)).toEqual([
      { topic: topics.position.name, subject: 'orders.o1.position', version: 2, reason: 'cleared' },
    ]);
  });

  it('a settled removal is told to a resume from a cursor at or below the position it settled at, not above', async () => {
    const s = await serve(engine, { retention: { graceMs: 0 } });
    await s.fete.emit(topics.position, { orderId: 'o1', lat: 1 });
    const at = await mark(s, 'the last event before the removal');
    await s.fete.clearLatest(topics.position, { orderId: 'o1' });
    await s.fete.prune(); // settles it (if the periodic pass did not already) at the log's high water: `at`
    const later = await mark(s, 'committed after it settled');
    const told = await rawResume(s, at.cursor);
    await until(() => told.length === 2, 'the replayed event and the removal');
    expect(told.filter((p) => p[0] === 'removed')).toEqual([['removed', 'orders.o1.position', 2, 'cleared']]);
    // After `later` (which it sees live): nothing.
    const notTold = await rawResume(s, later.cursor);
    await s.fete.emit(topics.position, { orderId: 'o2', lat: 1 });
    await until(() => notTold.length === 1, 'the next value');
    expect(notTold).toEqual([['value', 'orders.o2.position', 1]]);
  });
});

describe.each(engines)('pruning removals (%s)', (engine) => {
  it('tombstones older than retention.removalsMs are pruned, per tenant, and a revived subject keeps growing versions', async () => {
    const s = await serve(engine, { retention: { graceMs: 0, removalsMs: 0, intervalMs: 0 } });
    for (const id of ['o1', 'o2', 'o3']) {
      await s.fete.emit(topics.position, { orderId: id, lat: 1 });
      await s.fete.emit(topics.position, { orderId: id, lat: 2 });
    }
    await s.fete.emit(topics.position, { orderId: 'o1', lat: 1 }, { tenant: 't2' });
    const before = await mark(s, 'before the removals');
    for (const id of ['o1', 'o2']) await s.fete.clearLatest(topics.position, { orderId: id });
    await s.fete.clearLatest(topics.position, { orderId: 'o1' }, { tenant: 't2' });
    expect(await s.fete.prune()).toEqual([{ topic: topics.position.name, deleted: 3, prunedThrough: undefined }]);
    expect(await s.fete.prune()).toEqual([]);
    // Above the versions pruned (o1 and o2 were removed at version 3): a receiver that still holds
    // a removal takes the new value.
    expect(await s.fete.emit(topics.position, { orderId: 'o2', lat: 9 })).toMatchObject({ version: 4 });
    expect(await s.fete.emit(topics.position, { orderId: 'o9', lat: 9 })).toMatchObject({ version: 4 });
    // Tenant t2 pruned only its own (version 2): its new subjects start at 3.
    expect(await s.fete.emit(topics.position, { orderId: 'o9', lat: 9 }, { tenant: 't2' })).toMatchObject({ version: 3 });
    // The default tenant's resume from before what was pruned is told its snapshot is complete.
    const packets = await rawResume(s, before.cursor);
    await until(() => packets.some((p) => p[0] === 'gap'), 'the removals gap');
    expect(packets).toEqual([
      ['value', 'orders.o2.position', 4],
      ['value', 'orders.o3.position', 2],
      ['value', 'orders.o9.position', 4],
      ['gap', 'removals'],
    ]);
  });

  it('every process prunes them by itself every retention.intervalMs, without fete.prune()', async () => {
    const s = await serve(engine, { retention: { graceMs: 0, removalsMs: 0, intervalMs: 1 } });
    await s.fete.emit(topics.position, { orderId: 'o1', lat: 1 });
    await s.fete.clearLatest(topics.position, { orderId: 'o1' }); // at version 2
    // Once the tombstone is pruned, a new subject starts above its version.
    let n = 0;
    await until(async () => ((await s.fete.emit(topics.position, { orderId: `new${n++}`, lat: 1 })) as { version?: number }).version === 3, 'the periodic prune');
  });

  it('a resume older than the horizon drops the values it held that are gone (onCleared reason gone) and keeps the others, on every door', async () => {
    const s = await serve(engine, { retention: { graceMs: 0, removalsMs: 0, intervalMs: 0 } });
    for (const id of ['o1', 'o2', 'o3']) await s.fete.emit(topics.position, { orderId: id, lat: 1 });
    const c = client(s);
    const w = watch(c, 'orders.>');
    await w.sub.ready;
    const at = await mark(s, 'the cursor');
    await until(() => w.seen.length === 4 && w.sub.cursor === at.cursor, 'the values and the cursor');
    // Away while o1 is removed (its notice never reaches the client), o2 changes, and the removal
    // is settled and pruned.
    let release = () => {};
    hold = new Promise((resolve) => (release = resolve));
    s.fanout.io.of('/fete').disconnectSockets(true);
    await until(() => !c.status.connected, 'the client offline');
    await s.fete.clearLatest(topics.position, { orderId: 'o1' });
    await s.fete.emit(topics.position, { orderId: 'o2', lat: 2 });
    expect((await s.fete.prune()).map((r) => r.deleted)).toEqual([1]);
    hold = undefined;
    release();
    await until(() => w.gaps.some((g) => g.reason === 'removals') && w.seen.length === 6, 'the resume');
    expect(show(w.seen)).toEqual([
      ['value', 'orders.o1.position', 1],
      ['value', 'orders.o2.position', 1],
      ['value', 'orders.o3.position', 1],
      ['value', 'orders.o2.position', 2],
      ['removed', 'orders.o1.position', 2, 'gone'],
    ]);
    expect(w.gaps.filter((g) => g.reason === 'removals')).toEqual([{ pattern: 'orders.>', reason: 'removals', after: at.seq, resumedAt: at.seq }]);
    // A later value of o1 is newer than the removal the client recorded.
    await s.fete.emit(topics.position, { orderId: 'o1', lat: 5 });
    await until(() => w.seen.length === 7, 'the revived value');
    expect(show(w.seen.slice(6))).toEqual([['value', 'orders.o1.position', 3]]);

    // SSE: the values, then `event: gap` with reason 'removals'.
    const sse = await sseResume(s, String(at.seq), (m) => m.some((x) => x.event === 'gap'));
    expect(sse.map((m) => (m.event === 'gap' ? ['gap', m.data] : [m.event, (JSON.parse(m.data) as { json: Envelope }).json.subject]))).toEqual([
      [topics.position.name, 'orders.o1.position'],
      [topics.position.name, 'orders.o2.position'],
      [topics.position.name, 'orders.o3.position'],
      ['gap', JSON.stringify({ reason: 'removals' })],
    ]);
  });
});

describe.runIf(availability.url !== undefined && nats.url !== undefined)('across two fetes with the NATS bus', () => {
  it("a removal made by one fete is told to a resume on the other, and once pruned there the other's older resume is told its snapshot is complete", async () => {
    const schema = freshSchema('lrem2');
    const options = { schema, bus: { nats: nats.url! }, retention: { graceMs: 0, removalsMs: 0, intervalMs: 0 } };
    const a = await serve('postgres', options);
    const b = await serve('postgres', options);
    await a.fete.emit(topics.position, { orderId: 'o1', lat: 1 });
    await a.fete.emit(topics.position, { orderId: 'o2', lat: 1 });
    const before = await mark(a, 'before the removal');
    await a.fete.clearLatest(topics.position, { orderId: 'o1' });
    // Settled or not by now (a grace of 0), its position is at or above `before`: told.
    const told = await rawResume(b, before.cursor);
    await until(() => told.length === 2, 'the value and the removal');
    expect(told).toEqual([
      ['value', 'orders.o2.position', 1],
      ['removed', 'orders.o1.position', 2, 'cleared'],
    ]);
    expect((await a.fete.prune()).map((r) => [r.topic, r.deleted])).toEqual([[topics.position.name, 1]]);
    const complete = await rawResume(b, before.cursor);
    await until(() => complete.length === 2, 'the value and the removals gap');
    expect(complete).toEqual([
      ['value', 'orders.o2.position', 1],
      ['gap', 'removals'],
    ]);
  });
});
