// One run of the fanout benchmark for one server implementation: a server child and a clients
// child (the same arrangement for every implementation, so each side has a process and an event
// loop of its own), a warm-up burst, a timed burst, then a fixed-rate phase for latency.
import { fileURLToPath } from 'node:url';
import { dropSchema, freshSchema, DATABASE_URL } from '../durable/common.js';
import { IpcChild } from '../../test/support/ipc-child.js';
import { type ClientsCommand, type ClientsMessage, type Cpu, type EmitMode, type Impl, type Percentiles, type ServerCommand, type ServerMessage, type SidMode } from './common.js';

const serverScript = fileURLToPath(new URL('./server-child.ts', import.meta.url));
const clientsScript = fileURLToPath(new URL('./clients-child.ts', import.meta.url));

export interface PairConfig {
  impl: Impl;
  sids: SidMode;
  emit: EmitMode;
  clients: number;
  warmupEvents: number;
  burstEvents: number;
  ratePerSecond: number;
  rateEvents: number;
}

export interface PairResult {
  /** Deliveries (events x subscribers) per second, first emit to last delivery. */
  deliveriesPerSec: number;
  burstMs: number;
  /** How long the server took to return from all emits of the burst. */
  emitMs: number;
  latency: { p50: number; p99: number; max: number; count: number };
  /** How long the server's emit call took to resolve in the fixed-rate phase (fete: the append,
   * then the fanout's send to this process's sockets, which runs before the emit resolves). */
  emitCallMs: Percentiles | undefined;
  /** fete, fixed-rate phase: emit call to commit (the append round trip) and commit to receipt
   * (the fanout: routing, encoding, sockets, the clients' process), over every delivery. */
  appendMs: Percentiles | undefined;
  fanoutMs: Percentiles | undefined;
  /** CPU time of each child during the timed burst. */
  burstCpu: { server: Cpu; clients: Cpu };
}

type Server = IpcChild<ServerCommand, ServerMessage>;
type Clients = IpcChild<ClientsCommand, ClientsMessage>;

async function usage(server: Server, clients: Clients): Promise<{ server: Cpu; clients: Cpu }> {
  server.send({ type: 'usage' });
  clients.send({ type: 'usage' });
  const [s, c] = await Promise.all([server.next('usage'), clients.next('usage')]);
  return { server: s.cpu, clients: c.cpu };
}

const minus = (a: Cpu, b: Cpu): Cpu => ({ user: a.user - b.user, system: a.system - b.system });

async function phase(server: Server, clients: Clients, command: ServerCommand & { events: number }, n: number, latency: boolean) {
  clients.send({ type: 'expect', deliveries: command.events * n, latency });
  await clients.next('armed');
  server.send(command);
  const [emitted, received] = await Promise.all([server.next('emitted'), clients.next('received')]);
  return { emitted, received };
}

export async function runPair(c: PairConfig): Promise<PairResult> {
  const schema = c.impl.startsWith('fete-pg') || c.impl === 'plain-pg' ? freshSchema('fanout') : undefined;
  // FETE_BENCH_FANOUT_PROFILE=<dir>: CPU profiles of both children (node --cpu-prof), named by role.
  const profile = process.env.FETE_BENCH_FANOUT_PROFILE;
  const prof = (role: string) => (profile ? ['--cpu-prof', '--cpu-prof-dir', `${profile}/${c.impl}-${c.sids}-${c.emit}-${role}-${Date.now()}`] : []);
  const server: Server = new IpcChild(serverScript, [c.impl, DATABASE_URL, schema ?? 'fete', c.emit], { execArgv: prof('server'), stdout: 'inherit', label: 'server' });
  let clients: Clients | undefined;
  try {
    const { port } = await server.next('ready', 60_000);
    clients = new IpcChild(clientsScript, [`http://127.0.0.1:${port}`, c.impl, String(c.clients), c.sids], { execArgv: prof('clients'), stdout: 'inherit', label: 'clients' });
    await clients.next('ready', 120_000);
    await phase(server, clients, { type: 'burst', events: c.warmupEvents }, c.clients, false);
    const before = await usage(server, clients);
    const burst = await phase(server, clients, { type: 'burst', events: c.burstEvents }, c.clients, false);
    const after = await usage(server, clients);
    const burstMs = burst.received.lastAt - burst.emitted.firstAt;
    const rate = await phase(server, clients, { type: 'rate', perSecond: c.ratePerSecond, events: c.rateEvents }, c.clients, true);
    let fanoutMs: Percentiles | undefined;
    if (rate.emitted.commits) {
      clients.send({ type: 'fanout', commits: rate.emitted.commits });
      fanoutMs = (await clients.next('fanout')).fanoutMs;
    }
    return {
      deliveriesPerSec: (c.burstEvents * c.clients * 1000) / burstMs,
      burstMs,
      emitMs: burst.emitted.lastAt - burst.emitted.firstAt,
      latency: rate.received.latency!,
      emitCallMs: rate.emitted.emitCallMs,
      appendMs: rate.emitted.appendMs,
      fanoutMs,
      burstCpu: { server: minus(after.server, before.server), clients: minus(after.clients, before.clients) },
    };
  } finally {
    clients?.send({ type: 'stop' });
    server.send({ type: 'stop' });
    await clients?.kill(5000);
    await server.kill(10_000);
    if (schema) await dropSchema(schema);
  }
}
