// One fete served on the three ways out of the log: Socket.IO (`fete.attach`), SSE (`GET
// /fete/stream` of `fete.express()`) on the same HTTP server, and `fete.follow` in process; and a
// reader per path that records what a resume yields, in order, as `ev <seq>` / `gap <reason>`
// items, until a condition holds. Used by the resume-gap regression and property tests.
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { io, type Socket } from 'socket.io-client';
import { createFete, type Fete } from '../../server/index.js';
import type { FeteOptions } from '../../server/options.js';
import { type EvPacket, type EvsPacket, type GapPacket, type GapReason, type SubscribeFrom, decodeWireEnvelope } from '../../shared/index.js';
import { topics, type Topics } from './topics.js';
import { until } from './support.js';

export type Item = { kind: 'ev'; seq: number } | { kind: 'gap'; reason: GapReason; after: number; resumedAt: number; epoch: string };
export type Path = 'socket.io' | 'sse' | 'follow';
export const PATHS: Path[] = ['socket.io', 'sse', 'follow'];

export interface Served {
  fete: Fete<Topics>;
  url: string;
  http: HttpServer;
  close(): Promise<void>;
}

/** A fete with its fanout and its Express router on one HTTP server (port 0 unless given). */
export async function serveThreeWays(options: Partial<FeteOptions<Topics>> & Pick<FeteOptions<Topics>, 'schema'>, port = 0): Promise<Served> {
  // Open on purpose: these tests are about resumes, not access (test/security covers that).
  const fete = await createFete({ topics, security: { auth: 'anonymous' }, ...options });
  const app = express();
  app.use('/fete', fete.express({ stream: { pollIntervalMs: 50 } }));
  const http = createServer(app);
  fete.attach(http, { pollIntervalMs: 50 });
  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
  return {
    fete,
    http,
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    async close() {
      await fete.stop({ drain: false });
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** A resume in progress on one path: `items` grows as the server sends. */
export interface Reader {
  items: Item[];
  /** Waits until `done(items)` holds, then stops reading. */
  until(done: (items: Item[]) => boolean, what?: string): Promise<Item[]>;
  close(): void;
}

export const seqs = (items: Item[]) => items.flatMap((i) => (i.kind === 'ev' ? [i.seq] : []));
export const gaps = (items: Item[]) => items.filter((i): i is Extract<Item, { kind: 'gap' }> => i.kind === 'gap');

function reader(items: Item[], close: () => void): Reader {
  return {
    items,
    async until(done, what = 'items') {
      try {
        await until(() => done(items), what);
        return items;
      } finally {
        close();
      }
    },
    close,
  };
}

/** Resumes `pattern` from `from` (a cursor, a seq, 'earliest' or 'latest') on `path`. */
export async function resume(s: Served, path: Path, pattern: string, from: string | number): Promise<Reader> {
  const items: Item[] = [];
  if (path === 'socket.io') {
    const socket: Socket = io(`${s.url}/fete`, { forceNew: true, transports: ['websocket'], reconnection: false });
    const add = (es: unknown[]) => items.push(...es.map((e) => ({ kind: 'ev' as const, seq: decodeWireEnvelope(e).seq! })));
    socket.on('ev', (p: EvPacket) => add([p.e]));
    socket.on('evs', (p: EvsPacket) => add(p.es));
    socket.on('gap', (g: GapPacket) => items.push({ kind: 'gap', reason: g.reason, after: g.after, resumedAt: g.resumedAt, epoch: g.epoch }));
    const ack = await socket.timeout(20_000).emitWithAck('sub', { sid: 's', pattern, from });
    if (!ack.ok) throw new Error(`sub refused: ${JSON.stringify(ack)}`);
    return reader(items, () => socket.disconnect());
  }
  if (path === 'sse') {
    const abort = new AbortController();
    const headers: Record<string, string> = typeof from === 'string' && from !== 'earliest' && from !== 'latest' ? { 'last-event-id': from } : {};
    const query = typeof from === 'number' || from === 'earliest' || from === 'latest' ? `&from=${from}` : '';
    const res = await fetch(`${s.url}/fete/stream?pattern=${encodeURIComponent(pattern)}${query}`, { headers, signal: abort.signal });
    if (res.status !== 200) throw new Error(`stream refused: ${res.status} ${await res.text()}`);
    void (async () => {
      const text = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await text.read();
        if (done) return;
        buffer += value;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const field = (name: string) => block.split('\n').find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
          const data = field('data');
          if (data === undefined) continue;
          if (field('event') === 'gap') items.push({ kind: 'gap', ...(JSON.parse(data) as Omit<GapPacket, 'sid'>) });
          else items.push({ kind: 'ev', seq: Number(field('id')!.split(':').at(-1)) });
        }
      }
    })().catch(() => undefined);
    return reader(items, () => abort.abort());
  }
  const abort = new AbortController();
  void (async () => {
    for await (const item of s.fete.follow(pattern, { from: from as SubscribeFrom, signal: abort.signal })) {
      if (item.type === 'gap') items.push({ kind: 'gap', reason: item.reason, after: item.after, resumedAt: item.resumedAt, epoch: s.fete.log.epoch });
      else items.push(...item.events.map((e) => ({ kind: 'ev' as const, seq: e.seq! })));
    }
  })().catch(() => undefined);
  return reader(items, () => abort.abort());
}
