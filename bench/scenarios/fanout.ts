// Realtime fanout against plain Socket.IO room broadcast, in one run. Each implementation runs as
// a server child process with its subscribers in a second child process (500 socket.io-client
// sockets): the same arrangement for all, so each side has its own event loop, as browsers would.
// - throughput: a burst of events emitted by the server (fete: `fete.emit`, 32 in flight; plain:
//   `nsp.to(room).emit`), deliveries (events x subscribers) per second from the first emit call to
//   the last delivery;
// - latency: events at a fixed rate, emit call to receipt in the clients' process (timestamp in
//   the payload, same machine clock), p50 and p99 over every delivery.
// Implementations run in rotated order per round (load from other work on this shared machine
// falls on all of them); each one's best round is reported (max throughput; lowest p99 with that
// round's p50), the same rule for all; every round is in the figure's settings.
import { loadavg } from 'node:os';
import { type PairConfig, type PairResult, runPair } from '../fanout/run-pair.js';
import { commitFloor } from '../fanout/commit-floor.js';
import type { Percentiles } from '../fanout/common.js';
import type { EmitMode, Impl, SidMode } from '../fanout/common.js';
import { closeAdmin } from '../durable/common.js';
import { type Comparison, type Figure, fmt, higherIsBetter, lowerIsBetter, type Scenario } from '../harness.js';

// Env knobs shorten a run while iterating; the defaults are the reported setup.
const CLIENTS = Number(process.env.FETE_BENCH_FANOUT_CLIENTS ?? 500);
const BURST = Number(process.env.FETE_BENCH_FANOUT_BURST ?? 1000);
const RATE = Number(process.env.FETE_BENCH_FANOUT_RATE ?? 100);
const RATE_SECONDS = Number(process.env.FETE_BENCH_FANOUT_SECONDS ?? 10);
const ROUNDS = Number(process.env.FETE_BENCH_ROUNDS ?? 2);
/** Comma-separated subset of the run keys below. */
const ONLY = process.env.FETE_BENCH_FANOUT_ONLY?.split(',');

interface Run {
  key: string;
  name: string;
  impl: Impl;
  sids: SidMode;
  emit: EmitMode;
  /** Compared against the targets (the others are shown for what they explain). */
  target: boolean;
}

const RUNS: Run[] = [
  { key: 'plain', name: 'Socket.IO room broadcast', impl: 'plain', sids: 'shared', emit: 'each', target: false },
  { key: 'plain-pg', name: 'Socket.IO room broadcast after a one-row INSERT', impl: 'plain-pg', sids: 'shared', emit: 'each', target: false },
  { key: 'fete-pg', name: 'fete (PostgreSQL)', impl: 'fete-pg', sids: 'shared', emit: 'each', target: true },
  { key: 'fete-pglite', name: 'fete (PGlite memory)', impl: 'fete-pglite', sids: 'shared', emit: 'each', target: true },
  { key: 'fete-pg-many', name: 'fete (PostgreSQL, emitMany of 100)', impl: 'fete-pg', sids: 'shared', emit: 'many', target: false },
  { key: 'fete-pg-unique', name: 'fete (PostgreSQL, a sid per socket)', impl: 'fete-pg', sids: 'unique', emit: 'each', target: false },
];

function log(line: string): void {
  process.stdout.write(`  [fanout] ${line}\n`);
}

function cpu(c: { user: number; system: number }): string {
  return `${c.user.toFixed(0)}+${c.system.toFixed(0)} ms`;
}

function rotate<T>(xs: readonly T[], by: number): T[] {
  return xs.map((_, i) => xs[(i + by) % xs.length]!);
}

const scenario: Scenario = {
  name: 'fanout',
  description: `${CLIENTS} subscribers: burst of ${BURST} events (deliveries/s) and ${RATE} events/s for ${RATE_SECONDS} s (latency): fete vs plain Socket.IO room broadcast`,
  async run() {
    const loadBefore = loadavg().map((x) => Number(x.toFixed(2)));
    const runs = RUNS.filter((r) => !ONLY || ONLY.includes(r.key));
    const results = new Map<Run, PairResult[]>(runs.map((r) => [r, []]));
    const config = (r: Run): PairConfig => ({
      impl: r.impl,
      sids: r.sids,
      emit: r.emit,
      clients: CLIENTS,
      warmupEvents: Math.min(200, BURST),
      burstEvents: BURST,
      ratePerSecond: RATE,
      rateEvents: RATE * RATE_SECONDS,
    });
    const floors: Percentiles[] = [];
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const floor = await commitFloor(RATE, Math.min(500, RATE * RATE_SECONDS));
        floors.push(floor);
        log(`round ${round + 1} PostgreSQL one-row INSERT (autocommit) at ${RATE}/s: p50 ${floor.p50.toFixed(2)} ms, p99 ${floor.p99.toFixed(2)} ms`);
        for (const r of rotate(runs, round)) {
          const res = await runPair(config(r));
          results.get(r)!.push(res);
          log(
            `round ${round + 1} ${r.name}: ${fmt(res.deliveriesPerSec)} deliveries/s (burst ${res.burstMs.toFixed(0)} ms, emits returned after ${res.emitMs.toFixed(0)} ms, ` +
              `CPU user+sys server ${cpu(res.burstCpu.server)}, clients ${cpu(res.burstCpu.clients)}); latency p50 ${res.latency.p50.toFixed(1)} ms, p99 ${res.latency.p99.toFixed(1)} ms, max ${res.latency.max.toFixed(1)} ms` +
              (res.emitCallMs ? ` (emit call p50 ${res.emitCallMs.p50.toFixed(2)} ms, p99 ${res.emitCallMs.p99.toFixed(2)} ms)` : '') +
              (res.appendMs && res.fanoutMs
                ? `; append p50 ${res.appendMs.p50.toFixed(2)} ms, p99 ${res.appendMs.p99.toFixed(2)} ms; fanout (commit to receipt) p50 ${res.fanoutMs.p50.toFixed(2)} ms, p99 ${res.fanoutMs.p99.toFixed(2)} ms`
                : ''),
          );
        }
      }
    } finally {
      await closeAdmin();
    }

    const figures: Figure[] = [];
    const best = new Map<string, { throughput: number; p50: number; p99: number; fanoutP99?: number; cpuUs: number }>();
    /** Server CPU (user + system) per delivery in the timed burst, in microseconds. */
    const cpuPerDelivery = (x: PairResult) => ((x.burstCpu.server.user + x.burstCpu.server.system) * 1000) / (BURST * CLIENTS);
    for (const r of runs) {
      const all = results.get(r)!;
      const throughput = Math.max(...all.map((x) => x.deliveriesPerSec));
      const round = all.reduce((a, b) => (b.latency.p99 < a.latency.p99 ? b : a));
      const lat = round.latency;
      const cpuUs = Math.min(...all.map(cpuPerDelivery));
      best.set(r.key, { throughput, p50: lat.p50, p99: lat.p99, cpuUs, ...(round.fanoutMs ? { fanoutP99: round.fanoutMs.p99 } : {}) });
      const rounds = all.map((x) => ({
        deliveriesPerSec: Math.round(x.deliveriesPerSec),
        burstMs: Math.round(x.burstMs),
        cpuMs: x.burstCpu,
        latency: x.latency,
        emitCallMs: x.emitCallMs,
        appendMs: x.appendMs,
        fanoutMs: x.fanoutMs,
      }));
      figures.push(
        { name: `burst of ${BURST} events to ${CLIENTS} subscribers`, impl: r.name, value: throughput, unit: 'deliveries/s', settings: { rounds } },
        { name: `latency p50, ${RATE} events/s to ${CLIENTS} subscribers`, impl: r.name, value: lat.p50, unit: 'ms' },
        { name: `latency p99, ${RATE} events/s to ${CLIENTS} subscribers`, impl: r.name, value: lat.p99, unit: 'ms' },
        { name: `server CPU per delivery, burst of ${BURST} events`, impl: r.name, value: cpuUs, unit: 'us (user+sys)' },
      );
      // The same round split in two: the append round trip, and the fanout after the commit.
      if (round.appendMs && round.fanoutMs)
        figures.push(
          { name: `append p50 (emit call to commit), ${RATE} events/s`, impl: r.name, value: round.appendMs.p50, unit: 'ms' },
          { name: `append p99 (emit call to commit), ${RATE} events/s`, impl: r.name, value: round.appendMs.p99, unit: 'ms' },
          { name: `fanout p50 (commit to receipt), ${RATE} events/s to ${CLIENTS} subscribers`, impl: r.name, value: round.fanoutMs.p50, unit: 'ms' },
          { name: `fanout p99 (commit to receipt), ${RATE} events/s to ${CLIENTS} subscribers`, impl: r.name, value: round.fanoutMs.p99, unit: 'ms' },
        );
    }

    const floor = floors.reduce((a, b) => (b.p99 < a.p99 ? b : a));
    figures.push(
      { name: `one-row INSERT commit p50, ${RATE}/s (the floor of a durable append)`, impl: 'PostgreSQL', value: floor.p50, unit: 'ms', settings: { rounds: floors } },
      { name: `one-row INSERT commit p99, ${RATE}/s (the floor of a durable append)`, impl: 'PostgreSQL', value: floor.p99, unit: 'ms' },
    );

    const comparisons: Comparison[] = [];
    const plain = best.get('plain');
    const anchor = RUNS[0]!.name;
    if (plain) {
      for (const r of runs.filter((x) => x.impl !== 'plain')) {
        const f = best.get(r.key)!;
        const target = r.target;
        comparisons.push(higherIsBetter(`throughput, ${r.name}`, f.throughput, plain.throughput, anchor, target ? 1.5 : undefined));
        comparisons.push(lowerIsBetter(`latency p99, ${r.name}`, f.p99, plain.p99, anchor, target ? 1.2 : undefined));
        comparisons.push(lowerIsBetter(`latency p50, ${r.name}`, f.p50, plain.p50, anchor));
        comparisons.push(lowerIsBetter(`server CPU per delivery, ${r.name}`, f.cpuUs, plain.cpuUs, anchor));
        // fete's fanout alone (after the commit) against the anchor's whole emit-to-receipt.
        if (f.fanoutP99 !== undefined) comparisons.push(lowerIsBetter(`fanout p99 (commit to receipt), ${r.name}`, f.fanoutP99, plain.p99, anchor));
      }
    }
    // The durable anchor: the same broadcast, each event INSERTed first, under the same load.
    const durable = best.get('plain-pg');
    const durableName = RUNS.find((r) => r.key === 'plain-pg')!.name;
    if (durable) {
      for (const r of runs.filter((x) => x.impl.startsWith('fete-pg') && x.impl !== 'fete-pglite')) {
        const f = best.get(r.key)!;
        comparisons.push(higherIsBetter(`throughput, ${r.name}`, f.throughput, durable.throughput, durableName));
        comparisons.push(lowerIsBetter(`latency p99, ${r.name}`, f.p99, durable.p99, durableName));
        comparisons.push(lowerIsBetter(`latency p50, ${r.name}`, f.p50, durable.p50, durableName));
      }
    }

    return {
      settings: {
        clients: CLIENTS,
        burstEvents: BURST,
        warmupEvents: Math.min(200, BURST),
        ratePerSecond: RATE,
        rateSeconds: RATE_SECONDS,
        rounds: ROUNDS,
        patterns: 'client i subscribes to one of orders.*.status, orders.>, orders.*.*, > (i mod 4); every event matches all',
        processes: 'orchestrator + server child + clients child (all 500 sockets), Node, websocket transport, 127.0.0.1',
        report: 'best round per implementation (max deliveries/s; lowest p99 with its p50)',
        // Other work on this machine while the scenario ran (1, 5, 15-minute load averages; 2 cores): wall-clock
        // figures are only comparable between runs with similar load.
        loadAverage: { before: loadBefore, after: loadavg().map((x) => Number(x.toFixed(2))) },
      },
      figures,
      comparisons,
      notes: [
        'Throughput: from the first emit call (server clock) to the last of events x subscribers deliveries (clients clock); both children stamp times with performance.timeOrigin + performance.now().',
        'plain: every socket that subscribes joins one room; an event is `nsp.to(room).emit("ev", envelope)` (encoded once, one WebSocket frame for all sockets). fete: `fete.emit` appends to the store and the fanout sends `ev { sid, e }` to every matching subscription, or `evs { sid, es }` when it routes several events at once (commits that completed in the same event-loop turn).',
        'Subscribers decode as far as needed to read the payload timestamp: plain packets are the envelope object; fete packets carry the envelope as superjson\'s `{ json, meta }` object (read as `e.json.payload`, no second parse; the browser client also checks it as untrusted input). Until 2026-11-23 fete sent the envelope as superjson text, which every client parsed a second time.',
        'sid per socket: each subscriber uses its own subscription id, so no two sockets get the same packet (the worst case for the shared-frame path); the shared case is what the browser client does (its first subscription is s0 on every page).',
        'emitMany of 100: the same burst appended 100 events per commit, so the fanout routes 100 events at once and each socket gets one `evs` frame per commit; it isolates the fanout from the per-event append. Before `evs`, one frame per event per socket cost kernel time on both sides (server user+sys CPU per 500k deliveries: ~1.6+1.3 s per-event emits, ~1.3+0.4 s plain); with `evs` and the envelope as an object, concurrent per-event emits whose commits complete in the same turn share a frame too.',
        'emit call: how long `fete.emit` took to resolve in the fixed-rate phase (the append round trip, then the send to this process\'s sockets, which runs in the commit hook before the emit resolves); for plain it is the synchronous broadcast to 500 sockets.',
        'append / fanout split (fete, fixed-rate phase, the reported round): append = emit call to the commit hook (a hook registered before attach, so before the fanout sends), fanout = commit hook to receipt in the clients\' process, over every delivery. The fanout figure is compared with the anchor\'s whole emit-to-receipt latency.',
        'server CPU per delivery: the server child\'s user+system CPU time during the timed burst over events x subscribers (lowest round). Unlike wall-clock figures it moves little when other work shares the machine; fete\'s includes its appends (PostgreSQL\'s own CPU is not counted).',
        'Socket.IO room broadcast after a one-row INSERT (plain-pg): the plain anchor, but each event is first INSERTed (envelope as jsonb, autocommit, a pool of 10) on the same PostgreSQL and broadcast when the INSERT returns: the durable write an app hand-wires before `emit`, run under the same fanout load as fete. It has no resume, no deliveries, no routing by pattern; its latency holds the same commit wait as fete\'s.',
        'one-row INSERT: the same PostgreSQL, one INSERT per tick at the fixed rate in autocommit (one round trip, one WAL flush), measured at the start of each round; the lowest-p99 round is reported. It bounds what any durable path can do: fete sends an event only after its commit returns.',
        'Emits are group-committed since 2026-11-30 (server/log/group-commit.ts): the burst\'s 32 concurrent emits go to the store in a few appends, not 32, and their commits reach each socket as one `evs` frame.',
        'This machine has 2 cores shared by the three processes (and PostgreSQL): figures move between rounds; all rounds are in each figure\'s settings.',
      ],
    };
  },
};

export default scenario;
