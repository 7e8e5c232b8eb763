// A reader that stops reading (a stalled browser, or a peer that subscribes and never reads on
// purpose) must not make the server hold every change of a latest-value topic for it: only the
// newest value of each subject is due, so past `maxBufferedEvents` waiting events the changes of
// one subject replace each other, and the newest of each is sent once the socket drains. Log
// events are paced by the log and volatile ones dropped; without this, latest changes queued
// without bound (about 1.5 KB of heap per change of a small value, for as long as the reader lasts).
import { createServer, type Server as HttpServer } from 'node:http';
import { io, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createFete, type Fete } from '../../server/index.js';
import type { FanoutHandle } from '../../server/fanout/types.js';
import { decodeWireEnvelope, type Envelope } from '../../shared/index.js';
import { liveTopics as topics, type LiveTopics } from './live-topics.js';
import { until } from './support.js';
import { closeHttp, listen } from '../support/http-server.js';

const opened: Array<{ fete: Fete<LiveTopics>; http: HttpServer; fanout: FanoutHandle; sockets: Socket[] }> = [];
afterEach(async () => {
  for (const o of opened.splice(0)) {
    for (const s of o.sockets) s.close();
    await o.fete.stop({ drain: false });
    await closeHttp(o.http);
  }
});

const MAX_BUFFERED = 20;
const SUBJECTS = 4;
const CHANGES = 2000;
/** About 30 KB of headers per value, so that the kernel's socket buffers fill after a few hundred. */
const PAD = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`pad-${i}`, 'x'.repeat(1000)]));

async function server() {
  const fete = await createFete({ topics, store: 'memory', logger: false, security: { auth: 'anonymous' } });
  const http = createServer();
  // A stall longer than the heartbeat would disconnect the reader: not what is tested here.
  const fanout = fete.attach(http, { maxBufferedEvents: MAX_BUFFERED, serverOptions: { pingInterval: 120_000, pingTimeout: 120_000 } });
  const url = await listen(http);
  const o = { fete, http, fanout, sockets: [] as Socket[] };
  opened.push(o);
  return { ...o, url };
}

describe('a reader that stops reading latest values', () => {
  it('is sent the newest value of each subject once it reads again, not every change it missed', async () => {
    const s = await server();
    const c = io(`${s.url}/fete`, { forceNew: true, transports: ['websocket'], reconnection: false });
    s.sockets.push(c);
    const received: Envelope[] = [];
    c.on('ev', (p: { e: unknown }) => received.push(decodeWireEnvelope(p.e)));
    c.on('evs', (p: { es: unknown[] }) => received.push(...p.es.map((e) => decodeWireEnvelope(e))));
    await new Promise<void>((r) => c.once('connect', () => r()));
    expect(await c.timeout(10_000).emitWithAck('sub', { sid: 'p', pattern: 'prices.*', from: 'latest' })).toMatchObject({ ok: true });

    // The reader stops reading: its TCP socket is paused under the WebSocket.
    const tcp = (c.io.engine.transport as unknown as { ws: { _socket: { pause(): void; resume(): void } } }).ws._socket;
    tcp.pause();
    const newest = new Map<string, number>();
    for (let i = 0; i < CHANGES; i++) {
      const symbol = `s${i % SUBJECTS}`;
      const { version } = await s.fete.emit(topics.price, { symbol, price: i }, { headers: PAD });
      newest.set(`prices.${symbol}`, version!);
    }
    tcp.resume();

    // Once it reads again it gets the newest version of every subject...
    await until(() => [...newest].every(([subject, v]) => received.some((e) => e.subject === subject && e.version === v)), 'the newest value of each subject');
    // ...in increasing versions per subject...
    for (const subject of newest.keys()) {
      const versions = received.filter((e) => e.subject === subject).map((e) => e.version!);
      expect(versions).toEqual([...versions].sort((a, b) => a - b));
      expect(new Set(versions).size).toBe(versions.length);
    }
    // ...and not the changes that had become stale while it was not reading (what the kernel's
    // buffers took before the server saw the reader fall behind is still sent: a few hundred).
    expect(received.length).toBeLessThan(CHANGES / 2);
  }, 120_000);

  it("does not get a snapshot of every subject queued per sub packet: its snapshots wait for it to read", async () => {
    const s = await server();
    const VALUES = 150;
    const SUBS = 10;
    for (let i = 0; i < VALUES; i++) await s.fete.emit(topics.price, { symbol: `s${i}`, price: i }, { headers: PAD });
    const c = io(`${s.url}/fete`, { forceNew: true, transports: ['websocket'], reconnection: false });
    s.sockets.push(c);
    const bySid = new Map<string, number>();
    c.on('evs', (p: { sid: string; es: unknown[] }) => bySid.set(p.sid, (bySid.get(p.sid) ?? 0) + p.es.length));
    c.on('ev', (p: { sid: string }) => bySid.set(p.sid, (bySid.get(p.sid) ?? 0) + 1));
    await new Promise<void>((r) => c.once('connect', () => r()));
    const tcp = (c.io.engine.transport as unknown as { ws: { _socket: { pause(): void; resume(): void } } }).ws._socket;
    tcp.pause();
    // Ten small packets, each asking for every current value (about 4.5 MB).
    const acks = Array.from({ length: SUBS }, (_, i) => c.timeout(60_000).emitWithAck('sub', { sid: `s${i}`, pattern: 'prices.*', from: 'latest' }).catch((err: Error) => err));
    // What the server holds for this socket: Engine.IO's queue of packets for the transport.
    const serverSocket = [...s.fanout.io.of('/fete').sockets.values()][0]!;
    const queuedBytes = () => (serverSocket.conn as unknown as { writeBuffer: Array<{ data?: unknown }> }).writeBuffer.reduce((n, p) => n + (typeof p.data === 'string' ? p.data.length : 0), 0);
    const snapshotBytes = VALUES * 30 * 1000;
    // Wait until the server has queued what it will queue while the reader does not read.
    let before = -1;
    await until(async () => {
      await new Promise((r) => setTimeout(r, 500));
      const now = queuedBytes();
      const settled = now === before && now > 0;
      before = now;
      return settled;
    }, 'the queue to settle');
    expect(queuedBytes()).toBeLessThan(3 * snapshotBytes);
    tcp.resume();
    // Once it reads, every subscription is answered and gets every value once.
    for (const ack of acks) expect(await ack).toMatchObject({ ok: true });
    await until(() => bySid.size === SUBS && [...bySid.values()].every((n) => n === VALUES), 'every snapshot');
  }, 120_000);
});

describe('a reader that stops reading while latest values are cleared', () => {
  // Found by probe2: the socket's `cleared` callback emitted a `clr` packet for every removal at
  // once, whatever its backlog, so a stalled reader queued one packet per clear or expiry until the
  // heartbeat ended it. Past the backlog, removals are now held with the values, the newest per
  // subject (held-latest.ts), and sent at the drain; the same rule as the SSE door.
  it('is sent the newest removal of each subject once it reads again, not every clear it missed', async () => {
    const s = await server();
    const c = io(`${s.url}/fete`, { forceNew: true, transports: ['websocket'], reconnection: false });
    s.sockets.push(c);
    const clears: Array<{ subject: string; version: number }> = [];
    c.on('clr', (p: { subject: string; version: number }) => clears.push(p));
    await new Promise<void>((r) => c.once('connect', () => r()));
    expect(await c.timeout(10_000).emitWithAck('sub', { sid: 'p', pattern: 'prices.*', from: 'latest' })).toMatchObject({ ok: true });
    const tcp = (c.io.engine.transport as unknown as { ws: { _socket: { pause(): void; resume(): void } } }).ws._socket;
    tcp.pause();
    // Large values fill the kernel's buffers, so the socket is behind.
    for (let i = 0; i < 300; i++) await s.fete.emit(topics.price, { symbol: 'filler', price: i }, { headers: PAD });
    let last = 0;
    for (let i = 0; i < CHANGES; i++) {
      await s.fete.emit(topics.price, { symbol: `s${i % SUBJECTS}`, price: i });
      const { version } = await s.fete.clearLatest(topics.price, { symbol: `s${i % SUBJECTS}` });
      last = Math.max(last, version!);
    }
    tcp.resume();
    await until(() => clears.some((c) => c.version === last), 'the newest removal');
    expect(clears.length).toBeLessThan(CHANGES / 2);
  }, 120_000);
});
