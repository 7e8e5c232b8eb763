// The client outbox's enqueue path in real Chromium against plain idb, in one page of one run:
// fete's `client.emit` (validation, envelope, encoding, group commit; each emit resolves once its
// record is committed with durability 'strict'), many emits fired at once while offline so nothing
// drains; the naive outbox (one strict transaction per put, awaited); and strict transactions of
// 100 puts each. The anchors write the very records fete wrote, into the same store shape.
// Rounds interleave the three (rotated order) and each one's best round is reported.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type * as BenchPage from '../outbox/page.js';
import { browserSkipReason, launchChromium } from '../../test/support/browser.js';
import { pageRoutes } from '../../test/browser/support/page-server.js';
import { harnessReady, run } from '../../test/browser/support/pages.js';
import { fmt, higherIsBetter, type Figure, type Scenario } from '../harness.js';

type Page = typeof BenchPage;

// Env knobs shorten a run while iterating; the defaults are the reported setup.
const FETE_EMITS = Number(process.env.FETE_BENCH_OUTBOX_EMITS ?? 5_000);
const ONE_TX_PUTS = Number(process.env.FETE_BENCH_OUTBOX_ONE_TX_PUTS ?? 500);
const MANY_PUTS = Number(process.env.FETE_BENCH_OUTBOX_MANY_PUTS ?? 5_000);
const PER_TX = 100;
const ROUNDS = Number(process.env.FETE_BENCH_ROUNDS ?? 3);

function log(line: string): void {
  process.stdout.write(`  [outbox] ${line}\n`);
}

const rate = (t: BenchPage.Timing) => (t.puts / t.ms) * 1000;

const scenario: Scenario = {
  name: 'outbox',
  description: `Chromium, strict durability: fete client.emit x${FETE_EMITS} at once (offline) vs idb one tx per put and tx of ${PER_TX} puts`,
  async run() {
    const skip = browserSkipReason();
    if (skip) throw new Error(`cannot run the outbox benchmark: ${skip}`);
    const app = express();
    app.use(await pageRoutes('bench/outbox/page.ts'));
    const http = createServer(app);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const url = `http://localhost:${(http.address() as AddressInfo).port}`;
    const browser = await launchChromium();
    const rounds: Record<'fete' | 'one' | 'many', number[]> = { fete: [], one: [], many: [] };
    let recordBytes = 0;
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${url}/`);
      await harnessReady(page);
      // No server to reach: the client's emits stay queued, and no drain competes with them.
      await context.setOffline(true);
      const steps = {
        fete: async (round: number) => {
          const t = await run(page, (h: Page, a) => h.fete(a.n, a.round), { n: FETE_EMITS, round });
          if (t.pending !== FETE_EMITS + 1) throw new Error(`expected ${FETE_EMITS + 1} queued entries, the client reports ${t.pending}`);
          return t;
        },
        one: (round: number) => run(page, (h: Page, a) => h.txPerPut(a.n, a.round), { n: ONE_TX_PUTS, round }),
        many: (round: number) => run(page, (h: Page, a) => h.txOfMany(a.n, a.perTx, a.round), { n: MANY_PUTS, perTx: PER_TX, round }),
      };
      // Unmeasured warm-up: fete first, since the anchors write the records it wrote.
      await steps.fete(-1);
      await steps.one(-1);
      await steps.many(-1);
      recordBytes = await run(page, (h: Page) => h.recordBytes());
      const order = ['fete', 'one', 'many'] as const;
      for (let round = 0; round < ROUNDS; round++) {
        for (let i = 0; i < order.length; i++) {
          const which = order[(i + round) % order.length]!;
          const t = await steps[which](round);
          rounds[which].push(rate(t));
          log(`round ${round + 1} ${which}: ${fmt(rate(t))} puts/s (${t.puts} in ${t.ms.toFixed(0)} ms)`);
        }
      }
    } finally {
      await browser.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
    const best = (xs: number[]) => Math.max(...xs);
    const fete = best(rounds.fete);
    const one = best(rounds.one);
    const many = best(rounds.many);
    const figures: Figure[] = [
      { name: `enqueue, ${FETE_EMITS} emits at once, strict`, impl: 'fete', value: fete, unit: 'puts/s' },
      { name: 'one strict transaction per put', impl: 'idb', value: one, unit: 'puts/s' },
      { name: `strict transactions of ${PER_TX} puts`, impl: 'idb', value: many, unit: 'puts/s' },
    ];
    return {
      settings: { feteEmits: FETE_EMITS, oneTxPuts: ONE_TX_PUTS, manyPuts: MANY_PUTS, perTx: PER_TX, rounds: ROUNDS, recordBytes, all: rounds },
      figures,
      comparisons: [
        higherIsBetter('enqueue puts/s', fete, one, 'idb one tx per put', 10),
        higherIsBetter('enqueue puts/s', fete, many, `idb tx of ${PER_TX}`, 0.9),
      ],
      notes: [
        'fete: each emit validates the payload (zod), builds and encodes the envelope (superjson) and resolves once the group commit holding it is durable; the page is offline, so nothing drains.',
        'Anchors write the records fete wrote (same size), with idb 8 as an app would, each transaction awaited before the next.',
      ],
    };
  },
};

export default scenario;
