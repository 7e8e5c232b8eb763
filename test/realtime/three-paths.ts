// One fete served on the three ways out of the log: Socket.IO (`fete.attach`), SSE (`GET
// /fete/stream` of `fete.express()`) on the same HTTP server, and `fete.follow` in process; and a
// reader per path that records what a resume yields, in order, as `ev <seq>` / `gap <reason>`
// items, until a condition holds. Used by the resume-gap regression and property tests.
import { createServer, type Server as HttpServer } from 'node:http';
import express from 'express';
import { io, type Socket } from 'socket.io-client';
import { createFete, type Fete } from '../../server/index.js';
import type { FeteOptions } from '../../server/options.js';
import { type EvPacket, type EvsPacket, type GapPacket, type GapReason, type SubscribeFrom, decodeWireEnvelope } from '../../shared/index.js';
import { topics, type Topics } from './topics.js';
import { until } from './support.js';
import { closeHttp, listen } from '../support/http-server.js';
import { parseSseMessage, readSseBlocks } from '../support/sse-blocks.js';

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
  const url = await listen(http, port);
  return {
    fete,
    http,
    url,
    async close() {
      await fete.stop({ drain: false });
      await closeHttp(http);
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
    readSseBlocks(res.body!, (block) => {
      const m = parseSseMessage(block);
      if (m.data === undefined) return;
      if (m.event === 'gap') items.push({ kind: 'gap', ...(JSON.parse(m.data) as Omit<GapPacket, 'sid'>) });
      else items.push({ kind: 'ev', seq: Number(m.id!.split(':').at(-1)) });
    }).catch(() => undefined); // aborted
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
