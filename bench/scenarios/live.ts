// Volatile and latest-value topics (issue 15, part 3) against plain Socket.IO room broadcast and
// fete's log path, in one run, on the fanout benchmark's arrangement (bench/fanout/: a server child
// and a clients child with 500 socket.io-client sockets, 127.0.0.1): the same topic declared
// `delivery: 'log'` (appended to PostgreSQL before it is sent), `'volatile'` (published at once,
// stored nowhere) and `'latest'` (upserted, then published with its version).
// - throughput: a burst of events (`fete.emit`, 32 in flight), deliveries per second;
// - latency: events at a fixed rate, emit call to receipt in the clients' process, p50/p99.
// No target in the issue for this part: the ratios say what skipping the log buys.
// Rounds are rotated and each implementation's best round is reported (as in fanout.ts).
import { type PairConfig, type PairResult, runPair } from '../fanout/run-pair.js';
import type { Impl } from '../fanout/common.js';
import { closeAdmin } from '../durable/common.js';
import { type Comparison, type Figure, fmt, higherIsBetter, lowerIsBetter, type Scenario } from '../harness.js';

const CLIENTS = Number(process.env.FETE_BENCH_LIVE_CLIENTS ?? 500);
// Below the fanout's 1000 buffered events per socket: a volatile event past it is dropped for that
// socket (never replayed), and the burst would never complete.
const BURST = Number(process.env.FETE_BENCH_LIVE_BURST ?? 500);
const RATE = Number(process.env.FETE_BENCH_LIVE_RATE ?? 100);
const RATE_SECONDS = Number(process.env.FETE_BENCH_LIVE_SECONDS ?? 10);
const ROUNDS = Number(process.env.FETE_BENCH_ROUNDS ?? 2);

const RUNS: Array<{ impl: Impl; name: string }> = [
  { impl: 'plain', name: 'Socket.IO room broadcast' },
  { impl: 'fete-pg', name: "fete (PostgreSQL), delivery 'log'" },
  { impl: 'fete-pg-volatile', name: "fete (PostgreSQL), delivery 'volatile'" },
  { impl: 'fete-pg-latest', name: "fete (PostgreSQL), delivery 'latest'" },
];

function log(line: string): void {
  process.stdout.write(`  [live] ${line}\n`);
}

const scenario: Scenario = {
  name: 'live',
  description: `${CLIENTS} subscribers: burst of ${BURST} events and ${RATE} events/s for ${RATE_SECONDS} s: fete volatile / latest / log vs plain Socket.IO room broadcast`,
  async run() {
    const results = new Map<Impl, PairResult[]>(RUNS.map((r) => [r.impl, []]));
    const config = (impl: Impl): PairConfig => ({
      impl,
      sids: 'shared',
      emit: 'each',
      clients: CLIENTS,
      warmupEvents: Math.min(200, BURST),
      burstEvents: BURST,
      ratePerSecond: RATE,
      rateEvents: RATE * RATE_SECONDS,
    });
    try {
      for (let round = 0; round < ROUNDS; round++) {
        for (let i = 0; i < RUNS.length; i++) {
          const r = RUNS[(i + round) % RUNS.length]!;
          const res = await runPair(config(r.impl));
          results.get(r.impl)!.push(res);
          log(
            `round ${round + 1} ${r.name}: ${fmt(res.deliveriesPerSec)} deliveries/s; latency p50 ${res.latency.p50.toFixed(1)} ms, p99 ${res.latency.p99.toFixed(1)} ms` +
              (res.emitCallMs ? ` (emit call p50 ${res.emitCallMs.p50.toFixed(2)} ms, p99 ${res.emitCallMs.p99.toFixed(2)} ms)` : ''),
          );
        }
      }
    } finally {
      await closeAdmin();
    }
    const figures: Figure[] = [];
    const best = new Map<Impl, { throughput: number; p50: number; p99: number }>();
    for (const r of RUNS) {
      const all = results.get(r.impl)!;
      const throughput = Math.max(...all.map((x) => x.deliveriesPerSec));
      const lat = all.map((x) => x.latency).reduce((a, b) => (b.p99 < a.p99 ? b : a));
      best.set(r.impl, { throughput, p50: lat.p50, p99: lat.p99 });
      const rounds = all.map((x) => ({ deliveriesPerSec: Math.round(x.deliveriesPerSec), latency: x.latency, emitCallMs: x.emitCallMs }));
      figures.push(
        { name: `burst of ${BURST} events to ${CLIENTS} subscribers`, impl: r.name, value: throughput, unit: 'deliveries/s', settings: { rounds } },
        { name: `latency p50, ${RATE} events/s to ${CLIENTS} subscribers`, impl: r.name, value: lat.p50, unit: 'ms' },
        { name: `latency p99, ${RATE} events/s to ${CLIENTS} subscribers`, impl: r.name, value: lat.p99, unit: 'ms' },
      );
    }
    const comparisons: Comparison[] = [];
    const plain = best.get('plain')!;
    const anchor = RUNS[0]!.name;
    for (const r of RUNS.slice(1)) {
      const f = best.get(r.impl)!;
      comparisons.push(higherIsBetter(`throughput, ${r.name}`, f.throughput, plain.throughput, anchor));
      comparisons.push(lowerIsBetter(`latency p50, ${r.name}`, f.p50, plain.p50, anchor));
      comparisons.push(lowerIsBetter(`latency p99, ${r.name}`, f.p99, plain.p99, anchor));
    }
    return {
      settings: { clients: CLIENTS, burstEvents: BURST, ratePerSecond: RATE, rateSeconds: RATE_SECONDS, rounds: ROUNDS, subjects: 100, report: 'best round per implementation' },
      figures,
      comparisons,
      notes: [
        "volatile: `fete.emit` publishes on the live channel (PostgreSQL: a NOTIFY for other processes, sent after this process's own sockets got it); nothing is appended or stored.",
        "latest: one upsert per event into the latest table (100 subjects, so concurrent emits of one subject wait on its row lock), then the same publish with the version.",
        'This machine has 2 cores shared by the three processes, PostgreSQL and other work: figures move between rounds; every round is in the figure settings.',
      ],
    };
  },
};

export default scenario;
