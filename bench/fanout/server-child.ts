// The server side of the fanout benchmark, one process per run: `server-child.ts <impl> <url>
// <schema> <each|many>`. `plain`: Socket.IO on /fete, every socket that sends `sub` joins one room
// and events go out by `to(room).emit('ev', ...)`. `fete-pg` / `fete-pglite`: fete on PostgreSQL
// (url, schema) or PGlite in memory with `fete.attach(http)`; a burst is `fete.emit` per event, or
// with `many` `fete.emitMany` of EMIT_MANY events (one commit each). It listens on an ephemeral
// port, says `ready` with it over IPC, then emits on command. A fifth argument `dist` runs fete
// from the compiled package (`npm run build`), as an app runs it, instead of its TypeScript
// source through tsx (whose esbuild transform gives every closure an own `name` property: ~250
// bytes more per closure, which the memory scenario would count against fete alone).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { Server } from 'socket.io';
import { createEnvelope } from '../../shared/index.js';
import { percentile } from '../harness.js';
import { handWiredInsert } from '../hand-wired-insert.js';
import { type EmitMode, type Impl, type ServerCommand, type ServerMessage, type StatusPayload, cpuUsage, isPlain, latestTopics, now, settledMemory, topics, volatileTopics } from './common.js';

const [impl, url, schema, emitMode, build] = process.argv.slice(2) as [Impl, string, string, EmitMode, 'dist' | 'source' | undefined];
const serverModule = build === 'dist' ? '../../dist/server/index.js' : '../../server/index.js';
const { createFete } = (await import(serverModule)) as typeof import('../../server/index.js');
const say = (m: ServerMessage) => process.send!(m);
process.on('unhandledRejection', (err) => {
  say({ type: 'error', message: String((err as Error)?.stack ?? err) });
  process.exit(1);
});

/** fete.emit calls in flight during a burst (an app emitting from many requests at once). */
const EMIT_WINDOW = 32;
/** Events per fete.emitMany call in `many` mode. */
const EMIT_MANY = 100;

const http = createServer();
/** Commit time by event number, while a fixed-rate phase runs (fete only). */
let commitAt: Map<number, number> | undefined;
let emitOne: (p: StatusPayload, i: number) => Promise<unknown>;
let stop: () => Promise<void>;
let emitMany: ((ps: StatusPayload[]) => Promise<unknown>) | undefined;

if (impl === 'plain' || impl === 'plain-pg') {
  const io = new Server(http);
  const nsp = io.of('/fete');
  nsp.on('connection', (socket) => {
    socket.on('sub', (_packet: unknown, ack: (r: unknown) => void) => {
      void socket.join('orders');
      ack({ ok: true, cursor: 0 });
    });
  });
  // plain-pg: the envelope is INSERTed (one row, autocommit, one pool connection per emit in
  // flight) and broadcast when the INSERT returns, with the row's seq: the durable write an app
  // would hand-wire before `emit`, without fete's routing, deliveries or resume.
  const durable = impl === 'plain-pg' ? await handWiredInsert(pg, url, schema) : undefined;
  emitOne = async (payload, i) => {
    // The same event fete sends (an envelope), as the plain object a Socket.IO app would emit.
    const envelope = createEnvelope(topics.orderStatus, payload);
    nsp.to('orders').emit('ev', { ...envelope, seq: durable ? await durable.insert(envelope) : i + 1 });
  };
  stop = async () => {
    io.close();
    await durable?.end();
  };
} else {
  // The benchmark's subscribers are anonymous (as the plain Socket.IO anchor's are).
  const catalog = (impl === 'fete-pg-volatile' ? volatileTopics : impl === 'fete-pg-latest' ? latestTopics : topics) as typeof topics;
  const fete = await createFete({ topics: catalog, store: impl === 'fete-pglite' ? 'memory' : url, schema, roles: ['web'], security: { auth: 'anonymous' } });
  // Registered before attach, so it runs before the fanout's own commit hook sends the events:
  // the time an event's append returned, for the append / fanout split of the latency.
  fete.log.onCommit((events) => {
    if (!commitAt) return;
    const at = now();
    for (const e of events) commitAt.set((e.payload as StatusPayload).n, at);
  });
  fete.attach(http);
  await fete.start();
  emitOne = (payload) => fete.emit(catalog.orderStatus, payload);
  emitMany = (ps) => fete.emitMany(ps.map((p) => ({ topic: catalog.orderStatus, payload: p })));
  stop = () => fete.stop();
}

await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
say({ type: 'ready', port: (http.address() as AddressInfo).port });

let next = 0;
let numbered = 0;
const payload = (): StatusPayload => ({ orderId: `o-${next % 100}`, status: 'shipped', sentAt: now(), n: numbered++ });

async function burst(events: number): Promise<void> {
  const firstAt = now();
  if (emitMode === 'many' && emitMany) {
    for (let i = 0; i < events; i += EMIT_MANY) await emitMany(Array.from({ length: Math.min(EMIT_MANY, events - i) }, () => payload()));
    say({ type: 'emitted', firstAt, lastAt: now() });
    return;
  }
  let inFlight = 0;
  let sent = 0;
  await new Promise<void>((resolve, reject) => {
    const pump = () => {
      while (inFlight < EMIT_WINDOW && sent < events) {
        inFlight++;
        sent++;
        emitOne(payload(), next++).then(() => {
          inFlight--;
          if (sent === events && inFlight === 0) resolve();
          else pump();
        }, reject);
      }
    };
    pump();
  });
  say({ type: 'emitted', firstAt, lastAt: now() });
}

/** `events` emits at a fixed rate, each scheduled on the clock (a late one does not delay the rest). */
async function rate(perSecond: number, events: number): Promise<void> {
  const firstAt = now();
  const pending: Promise<unknown>[] = [];
  const took: number[] = [];
  const sentAt = new Map<number, number>();
  if (!isPlain(impl)) commitAt = new Map();
  for (let i = 0; i < events; i++) {
    const due = firstAt + (i * 1000) / perSecond;
    const wait = due - now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const p = payload();
    sentAt.set(p.n, p.sentAt);
    pending.push(emitOne(p, next++).then(() => took.push(now() - p.sentAt)));
  }
  await Promise.all(pending);
  took.sort((a, b) => a - b);
  const commits = commitAt ? [...commitAt] : undefined;
  commitAt = undefined;
  const append = commits?.map(([n, at]) => at - sentAt.get(n)!).sort((a, b) => a - b);
  say({
    type: 'emitted',
    firstAt,
    lastAt: now(),
    emitCallMs: { p50: percentile(took, 50), p99: percentile(took, 99) },
    ...(append && commits ? { appendMs: { p50: percentile(append, 50), p99: percentile(append, 99) }, commits } : {}),
  });
}

process.on('message', (m: ServerCommand) => {
  if (m.type === 'burst') void burst(m.events);
  else if (m.type === 'rate') void rate(m.perSecond, m.events);
  else if (m.type === 'usage') say({ type: 'usage', cpu: cpuUsage() });
  else if (m.type === 'memory') void settledMemory().then((memory) => say({ type: 'memory', memory }));
  else if (m.type === 'stop')
    void stop().finally(() => {
      http.closeAllConnections();
      http.close();
      process.exit(0);
    });
});
