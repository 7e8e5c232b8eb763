// Presence in a crowd: N sockets each watch one room and join it, so N×N member changes must reach
// the watchers. fete (one fete on PostgreSQL: the presence table, the live channel, `pwatch`/`sub`)
// against the anchor an app would hand-roll with plain Socket.IO in one process: on `join` the
// socket joins a room, gets the current list in its ack, and `io.to(room).emit('joined')` tells
// the others (no tenants, no table, nothing across processes, no re-sync after a reconnect).
// Measured: from the first join until every socket's list holds all N; CPU of this process (the
// server and the N client sockets: the same clients for both); packets received. Servers and
// clients share this process; rounds alternate the order and each implementation's best round is
// reported.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io, type Socket } from 'socket.io-client';
import { PresenceClient, startPresenceServer } from '../../test/presence/fixtures.js';
import { DATABASE_URL, adminPool, closeAdmin, freshSchema } from '../durable/common.js';
import { type Figure, lowerIsBetter, type Scenario } from '../harness.js';

const N = Number(process.env.FETE_BENCH_PRESENCE_CLIENTS ?? 300);
const ROUNDS = Number(process.env.FETE_BENCH_ROUNDS ?? 3);

interface Run {
  /** First join until every socket lists all N. */
  ms: number;
  cpuMs: number;
  packets: number;
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`presence bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function runFete(): Promise<Run> {
  const schema = freshSchema('bp');
  const server = await startPresenceServer({ store: DATABASE_URL, schema, roles: ['web'], presence: {} });
  const crowd = Array.from({ length: N }, (_, i) => new PresenceClient(server.url, { user: `u${i}` }));
  try {
    await Promise.all(crowd.map((c) => c.connected()));
    await Promise.all(crowd.map((c) => c.watch('w', 'rooms.big.chat')));
    const sizes = crowd.map(() => new Set<string>());
    const listed = () =>
      crowd.every((c, i) => {
        const m = sizes[i]!;
        m.clear();
        for (const e of c.events('w')) e.type === 'leave' ? m.delete(e.member.id) : m.add(e.member.id);
        return m.size === N;
      });
    const cpu = process.cpuUsage();
    const start = performance.now();
    await Promise.all(crowd.map((c) => c.sub('s', 'rooms.big.chat')));
    await waitFor(listed, 'every fete watcher to list everyone');
    const ms = performance.now() - start;
    const used = process.cpuUsage(cpu);
    return { ms, cpuMs: (used.user + used.system) / 1000, packets: crowd.reduce((n, c) => n + c.packets, 0) };
  } finally {
    for (const c of crowd) c.close();
    await server.close();
    await adminPool().query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  }
}

async function runPlain(): Promise<Run> {
  const http = createServer();
  const ioServer = new Server(http);
  const members = new Set<string>();
  ioServer.on('connection', (socket) => {
    const id = String(socket.handshake.auth.user);
    socket.on('join', (room: string, ack: (list: string[]) => void) => {
      void socket.join(room);
      members.add(id);
      ack([...members]);
      socket.to(room).emit('joined', id);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const lists = Array.from({ length: N }, () => new Set<string>());
  let packets = 0;
  const crowd: Socket[] = lists.map((list, i) => {
    const s = io(url, { forceNew: true, transports: ['websocket'], reconnection: false, auth: { user: `u${i}` } });
    s.on('joined', (id: string) => {
      packets++;
      list.add(id);
    });
    return s;
  });
  try {
    await Promise.all(crowd.map((s) => new Promise<void>((resolve) => (s.connected ? resolve() : s.once('connect', () => resolve())))));
    const cpu = process.cpuUsage();
    const start = performance.now();
    await Promise.all(
      crowd.map(async (s, i) => {
        const now = (await s.timeout(60_000).emitWithAck('join', 'big')) as string[];
        packets++;
        for (const id of now) lists[i]!.add(id);
      }),
    );
    await waitFor(() => lists.every((l) => l.size === N), 'every plain socket to list everyone');
    const ms = performance.now() - start;
    const used = process.cpuUsage(cpu);
    return { ms, cpuMs: (used.user + used.system) / 1000, packets };
  } finally {
    for (const s of crowd) s.disconnect();
    ioServer.engine.close();
    await new Promise<void>((resolve) => ioServer.close(() => resolve()));
  }
}

const scenario: Scenario = {
  name: 'presence',
  description: `${N} sockets each watch and join one room (${N}x${N} member changes): fete presence on PostgreSQL vs hand-rolled Socket.IO room broadcast`,
  async run() {
    const fete: Run[] = [];
    const plain: Run[] = [];
    try {
      for (let round = 0; round < ROUNDS; round++) {
        if (round % 2 === 0) {
          fete.push(await runFete());
          plain.push(await runPlain());
        } else {
          plain.push(await runPlain());
          fete.push(await runFete());
        }
      }
    } finally {
      await closeAdmin();
    }
    const best = (runs: Run[]) => runs.reduce((a, b) => (b.ms < a.ms ? b : a));
    const [f, p] = [best(fete), best(plain)];
    const anchor = 'Socket.IO room broadcast';
    const figures: Figure[] = [
      { name: 'all list all (best round)', impl: 'fete', value: f.ms, unit: 'ms', settings: { rounds: fete.map((r) => Math.round(r.ms)) } },
      { name: 'all list all (best round)', impl: anchor, value: p.ms, unit: 'ms', settings: { rounds: plain.map((r) => Math.round(r.ms)) } },
      { name: 'CPU of the process, that round', impl: 'fete', value: f.cpuMs, unit: 'ms' },
      { name: 'CPU of the process, that round', impl: anchor, value: p.cpuMs, unit: 'ms' },
      { name: 'packets received by the sockets', impl: 'fete', value: f.packets, unit: 'packets' },
      { name: 'packets received by the sockets', impl: anchor, value: p.packets, unit: 'packets' },
    ];
    return {
      settings: { clients: N, rounds: ROUNDS },
      figures,
      comparisons: [lowerIsBetter('time until all list all', f.ms, p.ms, anchor), lowerIsBetter('CPU', f.cpuMs, p.cpuMs, anchor)],
      notes: [
        'fete writes every member to the presence table and announces it after the write (PostgreSQL NOTIFY); the anchor keeps a Set in memory and is single-process only.',
        'Servers and client sockets share one process: CPU includes both sides, the same clients for both implementations.',
      ],
    };
  },
};

export default scenario;
