// The durable listener of the demo: it "fulfils" each new order, writing a row to its own table
// in the same transaction as the listener's completion (ctx.tx), and reports progress as
// presentation events. Scenarios make failure visible: `flaky` fails its first attempt and is
// retried with backoff; `poison` fails every attempt until it is dead-lettered, and then succeeds
// when retried from the inspector (as if the bug had been fixed in between).
import type { Fete } from 'fete/server';
import type { Topics } from '../shared/catalog.js';

export const LISTENER = 'fulfil-order';
/** Attempts after the first: a poison order is dead after 3 attempts. */
const RETRIES = 2;
/** How many attempts of a poison order fail, in this process (kept in memory: the demo's "bug"). */
const POISON_FAILURES = RETRIES + 1;
/** Time the "warehouse" takes, so the processing state is visible in the page. */
const WORK_MS = 400;

export const FULFILMENTS = 'playground_fulfilments';
const TABLE = FULFILMENTS;

export async function createFulfilmentTable(fete: Fete<Topics>): Promise<void> {
  // No unique constraint on purpose: a second fulfilment of one order would show as a second row,
  // and the page would show "processed ×2". fete's exactly-once ctx.tx is what prevents it.
  await fete.transaction(async (tx) => {
    await tx.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (
      id bigserial PRIMARY KEY,
      order_id text NOT NULL,
      item text NOT NULL,
      quantity int NOT NULL,
      attempt int NOT NULL,
      event_seq bigint NOT NULL,
      fulfilled_at timestamptz NOT NULL DEFAULT now()
    )`);
  });
}

export interface Fulfilment {
  orderId: string;
  /** Rows written for this order: 1 when processed exactly once. */
  times: number;
  item: string;
  quantity: number;
  attempt: number;
  seq: number;
  fulfilledAt: string;
}

export async function listFulfilments(fete: Fete<Topics>, limit = 200): Promise<Fulfilment[]> {
  return fete.transaction(async (tx) => {
    const res = await tx.query<{
      order_id: string;
      times: string | number;
      item: string;
      quantity: number;
      attempt: number;
      event_seq: string | number;
      fulfilled_at: Date | string;
    }>(
      `SELECT order_id, count(*) OVER (PARTITION BY order_id) AS times, item, quantity, attempt, event_seq, fulfilled_at
       FROM ${TABLE} ORDER BY id DESC LIMIT $1`,
      [limit],
    );
    return res.rows.map((r) => ({
      orderId: r.order_id,
      times: Number(r.times),
      item: r.item,
      quantity: r.quantity,
      attempt: r.attempt,
      seq: Number(r.event_seq),
      fulfilledAt: new Date(r.fulfilled_at).toISOString(),
    }));
  });
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason)), { once: true });
  });

export function registerFulfilment(fete: Fete<Topics>): void {
  const poisonFailures = new Map<string, number>();
  const { orderCreated, orderStatus } = fete.topics;

  fete.on(
    orderCreated,
    LISTENER,
    async (order, ctx) => {
      const { orderId } = order;
      const last = ctx.attempt === RETRIES + 1;
      // Progress is sent right away (not with ctx.emit, which commits only with the completion).
      await fete.emit(orderStatus, { orderId, status: 'processing', attempt: ctx.attempt });
      await sleep(WORK_MS, ctx.signal);

      const failed = (message: string): never => {
        void fete.emit(orderStatus, { orderId, status: last ? 'dead-lettered' : 'retrying', attempt: ctx.attempt, message });
        throw new Error(message);
      };
      if (order.scenario === 'flaky' && ctx.attempt === 1) failed('the warehouse timed out (fails once on purpose)');
      if (order.scenario === 'poison') {
        const n = poisonFailures.get(orderId) ?? 0;
        if (n < POISON_FAILURES) {
          poisonFailures.set(orderId, n + 1);
          failed(`payment service refused the order (failure ${n + 1} of ${POISON_FAILURES} on purpose)`);
        }
      }

      // Both commit with this attempt's completion, or not at all.
      await ctx.tx.query(`INSERT INTO ${TABLE} (order_id, item, quantity, attempt, event_seq) VALUES ($1, $2, $3, $4, $5)`, [
        orderId,
        order.item,
        order.quantity,
        ctx.attempt,
        ctx.envelope.seq ?? 0,
      ]);
      await ctx.emit(orderStatus, { orderId, status: 'confirmed', attempt: ctx.attempt });
    },
    { retries: RETRIES, backoff: { initialMs: 2000, factor: 2, maxMs: 10_000, jitter: 0.2 }, concurrency: 4 },
  );
}
