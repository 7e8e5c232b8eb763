// What per-tenant uniqueness (server/sql/004_tenants.sql) costs an append on PostgreSQL: fete's
// emitMany into a store as migrated (unique (tenant, id), unique (tenant, key)) against the same
// fete on a store whose events table has the indexes of before 004 (unique (id), unique (key); the
// anchor), and 004 plus a replay index (tenant, seq), which 004 leaves out because no query uses it. Same code, same SQL, only the indexes differ. Rounds interleave the two
// (load from other processes falls on both); each one's best round is reported.
import { createFete, type Fete } from '../../server/index.js';
import { defineTopic, defineTopics } from '../../shared/index.js';
import { DATABASE_URL, adminPool, closeAdmin, freshSchema } from '../durable/common.js';
import { type Figure, higherIsBetter, type Scenario } from '../harness.js';

const EVENTS = Number(process.env.FETE_BENCH_TENANT_EVENTS ?? 20_000);
const BATCH = 100;
const ROUNDS = Number(process.env.FETE_BENCH_ROUNDS ?? 3);
const topics = defineTopics({ note: defineTopic('notes.{n}', { kind: 'presentation' }) });

type Layout = 'per-tenant (004)' | 'global (pre-004)' | '004 + index (tenant, seq)';

async function open(layout: Layout): Promise<{ fete: Fete<typeof topics>; schema: string }> {
  const schema = freshSchema('bt');
  const fete = await createFete({ topics, store: DATABASE_URL, schema, roles: ['web'], security: { auth: 'anonymous' } });
  await fete.stats(); // migrated
  if (layout === '004 + index (tenant, seq)') await adminPool().query(`CREATE INDEX events_tenant_seq ON "${schema}".events (tenant, seq)`);
  if (layout === 'global (pre-004)') {
    const q = adminPool();
    await q.query(`DROP INDEX "${schema}".events_tenant_id; DROP INDEX "${schema}".events_tenant_key`);
    await q.query(`CREATE UNIQUE INDEX events_id ON "${schema}".events (id); CREATE UNIQUE INDEX events_key ON "${schema}".events (key) WHERE key IS NOT NULL`);
  }
  return { fete, schema };
}

/** Appends EVENTS events in batches of BATCH, a quarter with an idempotency key, over 4 tenants. */
async function appendRate(fete: Fete<typeof topics>, round: number): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < EVENTS; i += BATCH)
    await fete.emitMany(
      Array.from({ length: BATCH }, (_, k) => ({
        topic: topics.note,
        payload: { n: i + k },
        tenant: `t${k % 4}`,
        ...(k % 4 === 0 ? { idempotencyKey: `r${round}-${i + k}` } : {}),
      })),
    );
  return (EVENTS / (performance.now() - start)) * 1000;
}

const scenario: Scenario = {
  name: 'tenant-append',
  description: `PostgreSQL: emitMany x${EVENTS} (batches of ${BATCH}, 4 tenants, 1/4 keyed) with per-tenant unique indexes vs the pre-004 global ones`,
  async run() {
    const [target, anchor, withSeq]: [Layout, Layout, Layout] = ['per-tenant (004)', 'global (pre-004)', '004 + index (tenant, seq)'];
    const layouts: Layout[] = [target, anchor, withSeq];
    const best = new Map<Layout, number>();
    const all = new Map<Layout, number[]>();
    const schemas: string[] = [];
    try {
      for (let round = 0; round < ROUNDS; round++) {
        // Rotated each round, so that no layout always runs first (or last) in a round.
        for (const layout of layouts.map((_, i) => layouts[(i + round) % layouts.length]!)) {
          const { fete, schema } = await open(layout);
          schemas.push(schema);
          try {
            await appendRate(fete, -1 - round); // warm-up: plans, connections
            const r = await appendRate(fete, round);
            all.set(layout, [...(all.get(layout) ?? []), Math.round(r)]);
            best.set(layout, Math.max(best.get(layout) ?? 0, r));
          } finally {
            await fete.stop();
          }
        }
      }
    } finally {
      for (const s of schemas) await adminPool().query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
      await closeAdmin();
    }
    const figures: Figure[] = layouts.map((l) => ({ name: 'append events/s (best round)', impl: l, value: best.get(l)!, unit: 'events/s', settings: { rounds: all.get(l) } }));
    return {
      settings: { events: EVENTS, batch: BATCH, rounds: ROUNDS, tenants: 4, keyedShare: 0.25 },
      figures,
      comparisons: [
        higherIsBetter('append events/s', best.get(target)!, best.get(anchor)!, anchor),
        higherIsBetter('append events/s, with a replay index', best.get(withSeq)!, best.get(anchor)!, anchor),
      ],
    };
  },
};

export default scenario;
