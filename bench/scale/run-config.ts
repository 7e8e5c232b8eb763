// One configuration of the `scale` benchmark: an implementation and a number of web nodes. Starts
// the emitter (which migrates the schema), the N nodes, one clients process with every subscriber
// spread over the nodes; warms up; then measures one fixed-rate phase: deliveries, emit-to-receipt
// latency, and per process its CPU time and the queries it sent to PostgreSQL (counted in its pg
// driver: see countPgQueries in common.ts).
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { IpcChild } from '../../test/support/ipc-child.js';
import type { ClientsCommand, ClientsReply, EmitterCommand, EmitterReply, Impl, NodeCommand, NodeReply, Usage } from './common.js';

const script = (name: string) => fileURLToPath(new URL(`./${name}.ts`, import.meta.url));

export interface ScaleConfig {
  impl: Impl;
  nodes: number;
  clients: number;
  perSecond: number;
  seconds: number;
  /** One unsubscribed domain event per this many emits (0: none). */
  auditEvery: number;
  dbUrl: string;
  natsUrl: string;
  redisUrl: string;
}

export interface ScaleResult {
  /** Queries sent to PostgreSQL per second by every process (nodes and emitter), in the phase. */
  dbQueriesPerSec: number;
  /** The same, by the web nodes only (all of them together). */
  nodeQueriesPerSec: number;
  /** Queries the web nodes sent (all together) per event emitted in the phase. */
  nodeQueriesPerEvent: number;
  deliveriesPerSec: number;
  /** Deliveries received / deliveries expected (events x subscribers). */
  deliveredShare: number;
  p50: number;
  p99: number;
  /** How long the emitter's emit call took (fete: append + commit; redis: a publish). */
  emitCallP50: number;
  emitCallP99: number;
  /** Mean CPU of one web node, in % of one core; the emitter's and the clients process's. */
  cpuPerNode: number;
  cpuEmitter: number;
  cpuClients: number;
}

export async function runConfig(c: ScaleConfig, admin: pg.Pool): Promise<ScaleResult> {
  const schema = `scale_${c.impl.replace('-', '_')}_${c.nodes}_${process.pid}_${Date.now().toString(36)}`;
  const args = [c.impl, c.dbUrl, schema, c.natsUrl, c.redisUrl];
  // FETE_BENCH_SCALE_PROFILE=<dir>: CPU profiles of the emitter and the web nodes (node --cpu-prof).
  const profile = process.env.FETE_BENCH_SCALE_PROFILE;
  const prof = (role: string) => (profile ? ['--cpu-prof', '--cpu-prof-dir', `${profile}/${c.impl}-${c.nodes}-${role}`] : []);
  const emitter = new IpcChild<EmitterCommand, EmitterReply>(script('emitter-child'), args, { label: 'emitter', execArgv: prof('emitter') });
  const nodes: Array<IpcChild<NodeCommand, NodeReply>> = [];
  let clients: IpcChild<ClientsCommand, ClientsReply> | undefined;
  const usageOf = async (p: { send(m: { type: 'usage' }): void; next(t: 'usage'): Promise<{ usage: Usage }> }) => {
    p.send({ type: 'usage' });
    return (await p.next('usage')).usage;
  };
  try {
    await emitter.next('ready');
    for (let i = 0; i < c.nodes; i++) nodes.push(new IpcChild(script('node-child'), args, { label: `node ${i}`, execArgv: prof(`node-${i}`) }));
    const ports = await Promise.all(nodes.map(async (n) => (await n.next('ready')).port));
    clients = new IpcChild(script('clients-child'), [c.impl, String(c.clients), ports.map((p) => `http://127.0.0.1:${p}`).join(',')], { label: 'clients' });
    await clients.next('ready');

    // Warm-up (JIT, pools, NATS interest): one second at the rate, not measured.
    emitter.send({ type: 'rate', perSecond: c.perSecond, events: c.perSecond, auditEvery: c.auditEvery });
    await emitter.next('emitted');
    await new Promise((r) => setTimeout(r, 500));

    const u0 = await Promise.all([...nodes.map(usageOf), usageOf(emitter), usageOf(clients)]);
    const t0 = performance.now();
    clients.send({ type: 'arm' });
    await clients.next('armed');
    const events = c.perSecond * c.seconds;
    emitter.send({ type: 'rate', perSecond: c.perSecond, events, auditEvery: c.auditEvery });
    const emitted = await emitter.next('emitted');
    // Stragglers: a second for the last deliveries (a lost one shows as deliveredShare < 1).
    await new Promise((r) => setTimeout(r, 1000));
    clients.send({ type: 'report' });
    const report = await clients.next('report');
    const u1 = await Promise.all([...nodes.map(usageOf), usageOf(emitter), usageOf(clients)]);
    const seconds = (performance.now() - t0) / 1000;
    const pct = (i: number) => ((u1[i]!.cpuMs - u0[i]!.cpuMs) / 1000 / seconds) * 100;
    const perSec = (i: number) => (u1[i]!.queries - u0[i]!.queries) / seconds;
    const nodeCpu = nodes.map((_, i) => pct(i));
    const nodeQueries = nodes.reduce((sum, _, i) => sum + perSec(i), 0);
    const phaseSeconds = Math.max(emitted.lastAt, report.lastAt) - emitted.firstAt;
    return {
      dbQueriesPerSec: nodeQueries + perSec(nodes.length),
      nodeQueriesPerSec: nodeQueries,
      nodeQueriesPerEvent: (nodeQueries * seconds) / (events + (c.auditEvery > 0 ? Math.ceil(events / c.auditEvery) : 0)),
      deliveriesPerSec: report.deliveries / (phaseSeconds / 1000),
      deliveredShare: report.deliveries / (events * c.clients),
      p50: report.p50,
      p99: report.p99,
      emitCallP50: emitted.emitCallMs.p50,
      emitCallP99: emitted.emitCallMs.p99,
      cpuPerNode: nodeCpu.reduce((a, b) => a + b, 0) / nodeCpu.length,
      cpuEmitter: pct(nodes.length),
      cpuClients: pct(nodes.length + 1),
    };
  } finally {
    clients?.send({ type: 'stop' });
    await clients?.kill(5000);
    await Promise.all(
      nodes.map(async (n) => {
        n.send({ type: 'stop' });
        await n.kill(10_000);
      }),
    );
    emitter.send({ type: 'stop' });
    await emitter.kill(10_000);
    if (c.impl !== 'redis') await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
  }
}
