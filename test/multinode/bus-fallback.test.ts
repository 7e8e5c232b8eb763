// The NATS bus when NATS is down at start (server/bus/nats-bus.ts): two web nodes on one PostgreSQL
// schema start with their NATS not running, serve their sockets on the PostgreSQL fallback (log
// events by NOTIFY and reads; volatile and latest events on the PostgreSQL live channel), say so in
// stats, health and the log, and move onto NATS once it runs — with no gap and no duplicate for
// log events appended all along. The NATS is a private nats-server (test/multinode/nats.ts) that
// starts mid-test; under CI=true a missing nats-server fails these tests, never skips them.
import { createServer, type Server as HttpServer } from 'node:http';
import express from 'express';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createFete, type Fete, type FeteLogger } from '../../server/index.js';
import type { FanoutHandle } from '../../server/fanout/types.js';
import { dropSchemasAt, freshSchema, postgresAvailability } from '../support/postgres.js';
import { RawClient, until } from '../realtime/support.js';
import { topics } from '../realtime/topics.js';
import { liveTopics } from '../realtime/live-topics.js';
import { NatsProxy, PrivateNats, privateNatsSkipReason } from './nats.js';
import { PresenceClient, startPresenceServer } from '../presence/fixtures.js';
import { defineTopics } from '../../shared/index.js';
import type { EventBus } from '../../server/bus/event-bus.js';
import { closeHttp, listen } from '../support/http-server.js';

const pgAvail = await postgresAvailability();
const skip = pgAvail.skipReason ?? (await privateNatsSkipReason());
if (skip) console.log(`skipping the bus fallback tests: ${skip}`);

/** Both catalogues in one: log topics (ticks) and live ones (cursor: volatile, price: latest). */
const catalog = defineTopics({ ...topics, ...liveTopics });
type Catalog = typeof catalog;

interface Node {
  fete: Fete<Catalog>;
  fanout: FanoutHandle;
  url: string;
  http: HttpServer;
  lines: Array<{ event: unknown; message: string }>;
  close(): Promise<void>;
}

/** A logger that records what fete reports (fields and message). */
function recorder(lines: Node['lines']): FeteLogger {
  const push = (fields: Record<string, unknown>, message: string) => void lines.push({ event: fields.event, message });
  return { info: push, warn: push, error: push };
}

const sorted = (xs: readonly number[]) => [...xs].sort((a, b) => a - b);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(skip !== undefined)('the NATS bus with NATS down at start', () => {
  const schemas: string[] = [];
  const nodes: Node[] = [];
  const raws: RawClient[] = [];
  const natses: PrivateNats[] = [];

  const presenceClients: PresenceClient[] = [];
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const r of raws.splice(0)) r.close();
    for (const c of presenceClients.splice(0)) c.close();
    for (const n of nodes.splice(0)) await n.close();
    for (const n of natses.splice(0)) await n.stop();
    for (const c of closers.splice(0)) await c();
  });
  afterAll(async () => {
    await dropSchemasAt(pgAvail.url!, schemas);
  });

  /** A NATS that is not running yet. */
  async function downNats(): Promise<PrivateNats> {
    const n = await PrivateNats.reserve();
    natses.push(n);
    return n;
  }

  /** A proxy in front of `nats`, refusing connections until the test opens it (nats.ts). */
  async function natsProxy(target?: PrivateNats): Promise<NatsProxy> {
    const proxy = await NatsProxy.create(target);
    closers.push(() => proxy.cut());
    return proxy;
  }

  /** A web node on `schema` with the bus on `nats`, Socket.IO and the Express router (`/fete`). */
  async function node(schema: string, nats: { url: string }, bus: Record<string, unknown> = {}): Promise<Node> {
    if (!schemas.includes(schema)) schemas.push(schema);
    const lines: Node['lines'] = [];
    const fete = await createFete({
      topics: catalog,
      store: pgAvail.url!,
      schema,
      roles: ['web'],
      security: { auth: 'anonymous' },
      logger: recorder(lines),
      // Retries every few hundred ms at most, and a poll that is not the test's bottleneck.
      bus: { nats: nats.url, retryMaxMs: 300, pollIntervalMs: 500, ...bus },
    });
    await fete.start();
    const app = express();
    app.use('/fete', fete.express({ metrics: 'public' }));
    const http = createServer(app);
    const fanout = fete.attach(http, { pollIntervalMs: 50 });
    const url = await listen(http);
    const n: Node = {
      fete,
      fanout,
      http,
      lines,
      url,
      async close() {
        await fete.stop();
        await closeHttp(http);
      },
    };
    nodes.push(n);
    return n;
  }

  async function raw(n: Node): Promise<RawClient> {
    const r = new RawClient(n.url, {});
    raws.push(r);
    await r.connected();
    return r;
  }

  const busState = async (n: Node) => (await n.fete.stats()).bus?.state;

  /** Emits ticks `from`..`from + count - 1` one by one (a steady stream), returning their seqs. */
  async function stream(n: Node, from: number, count: number, pauseMs = 0): Promise<number[]> {
    const seqs: number[] = [];
    for (let i = 0; i < count; i++) {
      seqs.push((await n.fete.emit(catalog.tick, { n: from + i })).seq!);
      if (pauseMs > 0) await sleep(pauseMs);
    }
    return seqs;
  }

  it("a node started with NATS down serves another node's appends to its sockets in order, then moves onto NATS with no gap or duplicate while appends run", async () => {
    const nats = await downNats();
    const schema = freshSchema('busfb');
    const a = await node(schema, nats);
    const b = await node(schema, nats);
    const before = (await a.fete.stats()).bus!;
    expect(before).toMatchObject({ state: 'degraded', fallbacks: 1, recoveries: 0 });
    expect(before.lastError).toMatch(/refused|ECONNREFUSED|connect/i);
    expect(a.lines.filter((l) => l.event === 'bus-degraded')).toHaveLength(1);

    const ca = await raw(a);
    expect(await ca.sub('t', 'ticks.*')).toMatchObject({ ok: true });
    // On the fallback: b's appends reach a's socket through the log (NOTIFY and reads).
    const first = await stream(b, 0, 30);
    await until(() => ca.seqs('t').length >= 30, "b's appends on a's socket");
    expect(ca.seqs('t')).toEqual(first);

    // NATS starts while b keeps appending (before, while and after both nodes move onto it).
    let onNats = false;
    const streaming = (async () => {
      const seqs: number[] = [];
      for (let i = 0; !onNats || i < 1000; i++) {
        seqs.push(...(await stream(b, 100 + i, 1)));
        if (onNats && i < 990) i = 990; // ten more once both are on NATS
        await sleep(5);
      }
      return seqs;
    })();
    await until(() => ca.seqs('t').length >= 45, 'the stream under way');
    await nats.start();
    await until(async () => (await busState(a)) === 'connected' && (await busState(b)) === 'connected', 'both nodes on NATS', 30_000);
    onNats = true;
    const during = await streaming;
    // After the switch: events come over NATS now (received), still in order, once.
    const received = a.fanout.stats().bus!.received;
    const after = await stream(b, 300, 30);
    const all = [...first, ...during, ...after];
    await until(() => ca.seqs('t').length >= all.length, 'every tick on a', 30_000);
    await sleep(300); // room for a duplicate to show up
    expect(ca.seqs('t')).toEqual(sorted(all));
    expect(ca.gaps).toEqual([]);
    expect(a.fanout.stats().bus!.received - received).toBeGreaterThanOrEqual(after.length);

    const now = (await a.fete.stats()).bus!;
    expect(now).toMatchObject({ state: 'connected', fallbacks: 1, recoveries: 1 });
    expect(now.lastError).toBeUndefined();
    // One line when it degraded, one when it recovered: not one per attempt or per message.
    expect(a.lines.filter((l) => String(l.event).startsWith('bus-')).map((l) => l.event)).toEqual(['bus-degraded', 'bus-recovered']);
  }, 90_000);

  it("volatile and latest events reach the other node's subscribers while NATS is down, and after it is up", async () => {
    const nats = await downNats();
    const schema = freshSchema('busfl');
    const a = await node(schema, nats);
    const b = await node(schema, nats);
    expect(await busState(a)).toBe('degraded');
    const cb = await raw(b);
    expect(await cb.sub('c', 'rooms.*.cursor')).toMatchObject({ ok: true });
    expect(await cb.sub('p', 'prices.*')).toMatchObject({ ok: true });

    await a.fete.emit(catalog.cursor, { room: 'r', x: 1 });
    await a.fete.emit(catalog.price, { symbol: 'A', price: 10 });
    await until(() => cb.events.get('c')?.length === 1 && cb.events.get('p')?.length === 1, "a's live events on b while NATS is down");
    expect(cb.events.get('c')![0]).toMatchObject({ volatile: true, payload: { room: 'r', x: 1 } });
    expect(cb.events.get('p')![0]).toMatchObject({ version: 1, payload: { symbol: 'A', price: 10 } });
    // A new subscriber on b reads the value a set.
    const late = await raw(b);
    await late.sub('p', 'prices.*');
    await until(() => late.events.get('p')?.length === 1, 'the current value for a new subscriber');

    await nats.start();
    await until(async () => (await busState(a)) === 'connected' && (await busState(b)) === 'connected', 'both nodes on NATS', 30_000);
    // On NATS now; a subscription's NATS interest may take a moment to reach the server: retry
    // the volatile event until it arrives (each publish is one event; none arrives twice).
    let x = 2;
    await until(async () => {
      await a.fete.emit(catalog.cursor, { room: 'r', x: x++ });
      await sleep(50);
      return (cb.events.get('c')?.length ?? 0) >= 2;
    }, 'a volatile event over NATS', 30_000);
    await a.fete.emit(catalog.price, { symbol: 'A', price: 11 });
    await until(() => cb.events.get('p')!.some((e) => e.version === 2), 'the next latest value over NATS');
    const xs = cb.events.get('c')!.map((e) => (e.payload as { x: number }).x);
    expect(new Set(xs).size).toBe(xs.length);
    const versions = cb.events.get('p')!.map((e) => e.version);
    expect(versions).toEqual([1, 2]);
  }, 90_000);

  it('a node cut off from NATS while the others reach it is still heard by them: its log and volatile events reach their sockets', async () => {
    const nats = await downNats();
    await nats.start();
    const unreachable = await PrivateNats.reserve(); // never started: b's NATS is down for good
    const schema = freshSchema('busfp');
    const a = await node(schema, nats);
    const b = await node(schema, unreachable);
    expect(await busState(a)).toBe('connected');
    expect(await busState(b)).toBe('degraded');
    const ca = await raw(a);
    await ca.sub('t', 'ticks.*');
    await ca.sub('c', 'rooms.*.cursor');
    const seqs = await stream(b, 0, 20);
    await b.fete.emit(catalog.cursor, { room: 'r', x: 1 });
    // The log events by a's poll or gap reads, the volatile one on the PostgreSQL live channel,
    // which every node listens to whether it is on NATS or not.
    await until(() => ca.seqs('t').length >= 20 && ca.events.get('c')?.length === 1, "b's events on a's socket", 30_000);
    expect(ca.seqs('t')).toEqual(seqs);
  }, 60_000);

  it('a node cut off from NATS while the others reach it gets their volatile and latest messages on its sockets, and the others get each message once', async () => {
    const nats = await downNats();
    await nats.start();
    const proxy = await natsProxy(nats);
    await proxy.open();
    const schema = freshSchema('busfx');
    const a = await node(schema, nats);
    const c = await node(schema, nats);
    const b = await node(schema, proxy); // reaches NATS through the proxy
    for (const n of [a, b, c]) expect(await busState(n)).toBe('connected');
    const cb = await raw(b);
    const cc = await raw(c);
    for (const r of [cb, cc]) {
      expect(await r.sub('c', 'rooms.*.cursor')).toMatchObject({ ok: true });
      expect(await r.sub('p', 'prices.*')).toMatchObject({ ok: true });
    }
    await proxy.cut();
    await until(async () => (await busState(b)) === 'degraded', 'b cut off from NATS', 30_000);
    // b says so on PostgreSQL; a and c, still on NATS, then send their live messages there too.
    await until(async () => (await a.fete.stats()).bus!.peersOnFallback === 1 && (await c.fete.stats()).bus!.peersOnFallback === 1, "b's notice at a and c");
    expect(await (await fetch(`${a.url}/fete/metrics`)).text()).toContain('fete_bus_peers_on_fallback 1');
    await a.fete.emit(catalog.cursor, { room: 'r', x: 1 });
    await a.fete.emit(catalog.price, { symbol: 'A', price: 10 });
    await b.fete.emit(catalog.cursor, { room: 'r', x: 2 });
    await until(() => cb.events.get('c')?.length === 2 && cb.events.get('p')?.length === 1, "a's live events on b, cut off");
    await until(() => cc.events.get('c')?.length === 2 && cc.events.get('p')?.length === 1, 'the live events on c');
    await sleep(300); // room for a second copy to show up
    const xs = (r: RawClient) => r.events.get('c')!.map((e) => (e.payload as { x: number }).x).sort();
    expect(xs(cb)).toEqual([1, 2]);
    expect(xs(cc)).toEqual([1, 2]); // once each, though a's came on NATS and on PostgreSQL
    for (const r of [cb, cc]) expect(r.events.get('p')!.map((e) => [e.version, e.payload])).toEqual([[1, { symbol: 'A', price: 10 }]]);

    // b back on NATS: it says so, and the others stop sending on PostgreSQL for it.
    await proxy.open();
    await until(async () => (await busState(b)) === 'connected', 'b back on NATS', 30_000);
    await until(async () => (await a.fete.stats()).bus!.peersOnFallback === 0, "b's return at a", 30_000);
    await a.fete.emit(catalog.price, { symbol: 'A', price: 11 });
    await until(() => cb.events.get('p')!.some((e) => e.version === 2), 'the next value on b, over NATS');
  }, 90_000);

  it('a node whose NATS link goes silent without a reset (a partition) notices by its pings, moves onto the fallback, still gets the others\' volatile events, and retries without leaving sockets behind', async () => {
    const nats = await downNats();
    await nats.start();
    const proxy = await natsProxy(nats);
    await proxy.open();
    const schema = freshSchema('busfz');
    const a = await node(schema, nats);
    // Pings every 200 ms here (the bus's default is 5 s), to notice the silence within a second.
    const b = await node(schema, proxy, { nats: { servers: proxy.url, pingInterval: 200, maxPingOut: 2 }, connectTimeoutMs: 300 });
    expect(await busState(b)).toBe('connected');
    const cb = await raw(b);
    expect(await cb.sub('c', 'rooms.*.cursor')).toMatchObject({ ok: true });
    await proxy.freeze();
    await until(async () => (await busState(b)) === 'degraded', 'b notices the silence', 30_000);
    await until(async () => (await a.fete.stats()).bus!.peersOnFallback === 1, "b's notice at a");
    await a.fete.emit(catalog.cursor, { room: 'r', x: 1 });
    await until(() => cb.events.get('c')?.length === 1, "a's volatile event on b");
    // b keeps trying the silent link (the NATS client's own reconnects), and leaves no socket
    // behind: one attempt open at a time.
    const base = proxy.accepted;
    await until(() => proxy.accepted >= base + 2, 'b retrying');
    let most = 0;
    await until(() => {
      most = Math.max(most, proxy.connections);
      return proxy.accepted >= base + 5;
    }, 'three more attempts');
    expect(most).toBeLessThanOrEqual(1);
    await proxy.open(); // the link answers again (new connections)
    await until(async () => (await busState(b)) === 'connected', 'b back on NATS', 30_000);
    await until(async () => (await a.fete.stats()).bus!.peersOnFallback === 0, "b's return at a", 30_000);
  }, 60_000);

  it('a NATS that accepts connections and never answers at start: the node starts degraded after connectTimeoutMs, and moves onto NATS once it answers', async () => {
    const nats = await downNats();
    await nats.start();
    const proxy = await natsProxy(nats);
    await proxy.silence();
    const schema = freshSchema('busft');
    const b = await node(schema, nats);
    const a = await node(schema, proxy, { connectTimeoutMs: 300 });
    const status = (await a.fete.stats()).bus!;
    expect(status).toMatchObject({ state: 'degraded', fallbacks: 1 });
    expect(status.lastError).toContain('did not answer within 300 ms');
    const ca = await raw(a);
    await ca.sub('t', 'ticks.*');
    const seqs = await stream(b, 0, 5);
    await until(() => ca.seqs('t').length >= 5, "b's appends on a, on the fallback", 30_000);
    await proxy.open(); // the address answers now
    await until(async () => (await busState(a)) === 'connected', 'a on NATS', 30_000);
    seqs.push(...(await stream(b, 5, 5)));
    await until(() => ca.seqs('t').length >= 10, 'every tick', 30_000);
    expect(ca.seqs('t')).toEqual(seqs);
  }, 60_000);

  it('a latest value a node missed while cut off from NATS reaches its subscribers when it moves onto NATS (values re-read at the switch)', async () => {
    const nats = await downNats();
    await nats.start();
    // a reaches NATS through a proxy that is closed until the test opens it.
    const proxy = await natsProxy(nats);
    const schema = freshSchema('busfv');
    const b = await node(schema, nats);
    const a = await node(schema, proxy);
    expect(await busState(b)).toBe('connected');
    expect(await busState(a)).toBe('degraded');
    const ca = await raw(a);
    expect(await ca.sub('p', 'prices.*')).toMatchObject({ ok: true });
    // b is on NATS, so it publishes the change there, where a does not listen yet.
    await b.fete.emit(catalog.price, { symbol: 'A', price: 42 });
    await proxy.open();
    await until(async () => (await busState(a)) === 'connected', 'a on NATS', 30_000);
    await until(() => ca.events.get('p')?.some((e) => e.version === 1), 'the value a missed', 30_000);
    expect(ca.events.get('p')!.map((e) => [e.version, e.payload])).toEqual([[1, { symbol: 'A', price: 42 }]]);
  }, 60_000);

  it('the health route stays 200 and says degraded while NATS is down, and ok once it is up', async () => {
    const nats = await downNats();
    const a = await node(freshSchema('bush'), nats);
    const health = async () => {
      const res = await fetch(`${a.url}/fete/health`);
      return { code: res.status, body: (await res.json()) as { status: string; bus?: { state: string; since: string; fallbacks: number } } };
    };
    const down = await health();
    expect(down.code).toBe(200);
    expect(down.body.status).toBe('degraded');
    expect(down.body.bus).toMatchObject({ state: 'degraded', fallbacks: 1 });
    expect(Number.isNaN(Date.parse(down.body.bus!.since))).toBe(false);
    // Read before NATS starts: the node moves onto it within a retry (retryMaxMs 300).
    const metrics = await (await fetch(`${a.url}/fete/metrics`)).text();
    expect(metrics).toContain('fete_bus_state{state="degraded"} 1');
    expect(metrics).toContain('fete_bus_fallbacks_total 1');
    await nats.start();
    await until(async () => (await health()).body.status === 'ok', 'health ok on NATS', 30_000);
    expect((await health()).body.bus).toMatchObject({ state: 'connected', fallbacks: 1 });
  }, 60_000);

  it('a later outage moves the node back onto the fallback (counted and logged once) and onto NATS again, with no gap or duplicate', async () => {
    const nats = await downNats();
    await nats.start();
    const schema = freshSchema('busfo');
    const a = await node(schema, nats);
    const b = await node(schema, nats);
    expect((await a.fete.stats()).bus).toMatchObject({ state: 'connected', fallbacks: 0, recoveries: 1 });
    expect(a.lines).toEqual([]);
    const ca = await raw(a);
    const cb = await raw(a);
    await ca.sub('t', 'ticks.*');
    await cb.sub('c', 'rooms.*.cursor');
    const streaming = stream(b, 0, 150, 5);
    await until(() => ca.seqs('t').length >= 20, 'the stream under way');
    await nats.stop();
    await until(async () => (await busState(a)) === 'degraded', 'a on the fallback', 30_000);
    // While NATS is away, b's volatile events still reach a's sockets (PostgreSQL live channel).
    await until(async () => (await busState(b)) === 'degraded', 'b on the fallback', 30_000);
    await b.fete.emit(catalog.cursor, { room: 'r', x: 1 });
    await until(() => cb.events.get('c')?.length === 1, "b's volatile event on a during the outage");
    await nats.start();
    const seqs = await streaming;
    await until(async () => (await busState(a)) === 'connected', 'a back on NATS', 30_000);
    await until(() => ca.seqs('t').length >= seqs.length, 'every tick', 30_000);
    await sleep(300);
    expect(ca.seqs('t')).toEqual(sorted(seqs));
    expect((await a.fete.stats()).bus).toMatchObject({ state: 'connected', fallbacks: 1, recoveries: 2 });
    expect(a.lines.map((l) => l.event)).toEqual(['bus-degraded', 'bus-recovered']);
  }, 90_000);

  it('presence reaches the other node while NATS is down, and after the move onto NATS', async () => {
    const nats = await downNats();
    const schema = freshSchema('busfr');
    schemas.push(schema);
    const bus = { nats: nats.url, retryMaxMs: 300 };
    const a = await startPresenceServer({ store: pgAvail.url!, schema, roles: ['web'], bus, logger: false });
    const b = await startPresenceServer({ store: pgAvail.url!, schema, roles: ['web'], bus, logger: false });
    nodes.push(a as unknown as Node, b as unknown as Node);
    const watcher = new PresenceClient(b.url, { user: 'bob' });
    const alice = new PresenceClient(a.url, { user: 'alice' });
    const carol = new PresenceClient(a.url, { user: 'carol' });
    presenceClients.push(watcher, alice, carol);
    await Promise.all([watcher.connected(), alice.connected(), carol.connected()]);
    expect(await watcher.watch('w', 'rooms.*.chat')).toEqual({ ok: true, members: [] });
    await alice.sub('s', 'rooms.r1.chat');
    await until(() => watcher.events('w').some((e) => e.type === 'join' && e.member.id === '@alice'), "alice's join over the fallback");
    await nats.start();
    await until(async () => (await a.fete.stats()).bus?.state === 'connected' && (await b.fete.stats()).bus?.state === 'connected', 'both on NATS', 30_000);
    await carol.sub('s', 'rooms.r1.chat');
    await until(() => watcher.events('w').some((e) => e.type === 'join' && e.member.id === '@carol'), "carol's join after the move");
    alice.close();
    await until(() => watcher.events('w').some((e) => e.type === 'leave' && e.member.id === '@alice'), "alice's leave");
  }, 60_000);

  it('a connection the NATS client gives up on (finite maxReconnectAttempts) is opened again by the bus, and events flow on the new one', async () => {
    const nats = await downNats();
    await nats.start();
    const schema = freshSchema('busfg');
    // The client tries twice, then closes the connection for good.
    const given = { servers: nats.url, maxReconnectAttempts: 2, reconnectTimeWait: 50 };
    const a = await node(schema, nats, { nats: given });
    const b = await node(schema, nats, { nats: given });
    const ca = await raw(a);
    await ca.sub('t', 'ticks.*');
    await ca.sub('c', 'rooms.*.cursor');
    await nats.stop();
    await until(async () => (await busState(a)) === 'degraded' && (await busState(b)) === 'degraded', 'both on the fallback', 30_000);
    await sleep(500); // longer than the client's two attempts: it has given up by now
    const seqs = await stream(b, 0, 10);
    await nats.start();
    await until(async () => (await busState(a)) === 'connected' && (await busState(b)) === 'connected', 'both back on NATS', 30_000);
    seqs.push(...(await stream(b, 10, 10)));
    await until(() => ca.seqs('t').length >= seqs.length, 'every tick', 30_000);
    expect(ca.seqs('t')).toEqual(seqs);
    expect(a.fanout.stats().bus!.received).toBeGreaterThan(0);
    // Volatile events on the new connection (retried until a's interest reached the server).
    let x = 0;
    await until(async () => {
      await b.fete.emit(catalog.cursor, { room: 'r', x: x++ });
      await sleep(50);
      return (ca.events.get('c')?.length ?? 0) >= 1;
    }, 'a volatile event on the new connection', 30_000);
  }, 90_000);

  it('a stopped node reports its bus down, and stop() completes while NATS is still unreachable', async () => {
    const nats = await downNats();
    const a = await node(freshSchema('busfs'), nats);
    await a.fete.emit(catalog.tick, { n: 1 });
    // The bus itself (not on the Fete interface): stats() is closed once fete is stopped.
    const bus = (a.fete as unknown as { bus: EventBus }).bus;
    await a.close();
    nodes.splice(nodes.indexOf(a), 1);
    expect(bus.status().state).toBe('down');
  }, 60_000);
});
