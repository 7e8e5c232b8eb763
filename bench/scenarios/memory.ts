// Server memory per connected client: RSS and JS heap after N idle subscribed sockets, minus
// before, fete (PostgreSQL; one subscription per socket, as the browser client holds one per
// `subscribe`) vs plain Socket.IO with one room join per socket. Each implementation's server runs
// in its own child process (--expose-gc: memory is read after full collections), its sockets in
// another. Rounds rotate the order; each implementation's lowest round is reported (the least
// disturbed by the rest of this shared machine), the same rule for all.
import { execSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runMemory, type MemoryResult } from '../fanout/memory-run.js';
import type { Impl } from '../fanout/common.js';
import { closeAdmin } from '../durable/common.js';
import { type Comparison, type Figure, lowerIsBetter, type Scenario } from '../harness.js';

const CLIENTS = Number(process.env.FETE_BENCH_MEMORY_CLIENTS ?? 2000);
const WARMUP = 50;
const ROUNDS = Number(process.env.FETE_BENCH_ROUNDS ?? 2);

const RUNS: Array<{ impl: Impl; name: string }> = [
  { impl: 'plain', name: 'Socket.IO, one room join per socket' },
  { impl: 'fete-pg', name: 'fete (PostgreSQL), one subscription per socket' },
];

const kb = (bytes: number) => bytes / 1024;

const scenario: Scenario = {
  name: 'memory',
  description: `server memory per client: ${CLIENTS} idle subscribed sockets, fete vs plain Socket.IO with one room join each`,
  async run() {
    const results = new Map<Impl, MemoryResult[]>(RUNS.map((r) => [r.impl, []]));
    // fete as an app runs it: the compiled package, not the TypeScript source through tsx.
    execSync('npm run build', { cwd: fileURLToPath(new URL('../..', import.meta.url)), stdio: 'ignore' });
    try {
      for (let round = 0; round < ROUNDS; round++) {
        for (const r of round % 2 === 0 ? RUNS : [...RUNS].reverse()) {
          const res = await runMemory(r.impl, CLIENTS, WARMUP);
          results.get(r.impl)!.push(res);
          process.stdout.write(
            `  [memory] round ${round + 1} ${r.name}: per client RSS ${kb(res.perClient.rss).toFixed(1)} KiB, heap ${kb(res.perClient.heapUsed).toFixed(1)} KiB, external ${kb(res.perClient.external).toFixed(1)} KiB ` +
              `(heap ${(res.before.heapUsed / 2 ** 20).toFixed(1)} -> ${(res.after.heapUsed / 2 ** 20).toFixed(1)} MiB, RSS ${(res.before.rss / 2 ** 20).toFixed(1)} -> ${(res.after.rss / 2 ** 20).toFixed(1)} MiB)\n`,
          );
        }
      }
    } finally {
      await closeAdmin();
    }
    const figures: Figure[] = [];
    const best = new Map<Impl, { rss: number; heap: number }>();
    for (const r of RUNS) {
      const all = results.get(r.impl)!;
      const rss = Math.min(...all.map((x) => x.perClient.rss));
      const heap = Math.min(...all.map((x) => x.perClient.heapUsed));
      best.set(r.impl, { rss, heap });
      const rounds = all.map((x) => ({ perClientKiB: { rss: kb(x.perClient.rss), heap: kb(x.perClient.heapUsed), external: kb(x.perClient.external) }, before: x.before, after: x.after }));
      figures.push(
        { name: `RSS per client, ${CLIENTS} idle subscribed sockets`, impl: r.name, value: kb(rss), unit: 'KiB', settings: { rounds } },
        { name: `heap per client, ${CLIENTS} idle subscribed sockets`, impl: r.name, value: kb(heap), unit: 'KiB' },
      );
    }
    const plain = best.get('plain')!;
    const fete = best.get('fete-pg')!;
    const anchor = RUNS[0]!.name;
    const comparisons: Comparison[] = [
      lowerIsBetter('RSS per client', fete.rss, plain.rss, anchor, 1.15),
      lowerIsBetter('heap per client', fete.heap, plain.heap, anchor, 1.15),
    ];
    return {
      settings: { clients: CLIENTS, warmupClients: WARMUP, rounds: ROUNDS, transport: 'websocket', pattern: 'client i subscribes to one of orders.*.status, orders.>, orders.*.*, > (i mod 4), sid s0' },
      figures,
      comparisons,
      notes: [
        'Per client = (server memory with the sockets connected and idle - before they connected) / clients, after full garbage collections (node --expose-gc, collected until the heap stops shrinking). A warm-up of 50 sockets connects and leaves before the first reading.',
        'RSS moves with the allocator and the OS (freed pages are not always returned), so the heap figure is the steadier one; both are reported.',
        'fete runs from its compiled build (`npm run build`, dist/), as an app runs it. Run from its TypeScript source through tsx, every closure fete makes per socket carries an own `name` property (esbuild keepNames), ~2.3 KiB more per client in the heap, which Socket.IO (plain JavaScript) does not pay.',
        'Both servers run the same Socket.IO; the difference is what fete keeps per socket and per subscription (session, subscription, pattern index entry, handlers) beyond a room join.',
      ],
    };
  },
};

export default scenario;
