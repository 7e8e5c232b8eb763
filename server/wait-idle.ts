// fete.waitIdle(): wait until there is no work left that would run within a time budget, instead
// of sleeping in tests and scripts (gala's WaitIdle). "Work" is: emits in flight here, attempts
// queued or running here, and in the store (durable) any delivery running or pending and due
// before the deadline. Not work: deliveries due after the deadline, deliveries blocked behind a
// dead letter of their ordering key (they wait for retry/skip, not for time), and deliveries of
// orphaned or retired listeners (no process will run them). Checked by polling every 10 ms: an
// idle state has no event to wait for, and the check is one indexed EXISTS query.
import { FeteError } from '../shared/index.js';
import type { Store } from './store/open-store.js';

export interface WaitIdleOptions {
  /** Give up after this long (ms), with FeteError TIMEOUT. Delayed work due later than this does
   * not count as pending. @default 10_000 */
  timeoutMs?: number;
}

export interface IdleProbe {
  /** Emits and transactions not yet settled in this process. */
  inflight(): number;
  /** The inline dispatcher has nothing queued, running, or due by `horizon` (epoch ms). */
  inline(horizon: number): boolean;
  /** The durable dispatcher of this process holds or runs deliveries. */
  local(): boolean;
  store: Store | undefined;
  orphanAfterMs: number;
}

const POLL_MS = 10;

async function storeBusy(store: Store, horizonMs: number, orphanAfterMs: number): Promise<boolean> {
  const { driver, tables: t } = store;
  const res = await driver.query<{ busy: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM ${t.deliveries} d JOIN ${t.listeners} l ON l.id = d.listener_id
       WHERE l.retired_at IS NULL AND l.seen_at >= now() - $2::float8 * interval '1 millisecond'
         AND (d.state = 'running' OR (d.state = 'pending' AND d.run_at <= now() + $1::float8 * interval '1 millisecond'
           AND NOT (d.order_key IS NOT NULL AND EXISTS (
             SELECT 1 FROM ${t.deliveries} b WHERE b.listener_id = d.listener_id AND b.order_key = d.order_key
               AND b.state = 'dead' AND b.event_seq < d.event_seq))))
     ) AS busy`,
    [Math.max(0, horizonMs), orphanAfterMs],
  );
  return res.rows[0]?.busy === true;
}

export async function waitIdle(p: IdleProbe, options: WaitIdleOptions): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0)
    throw new FeteError('INVALID_OPTIONS', `waitIdle: timeoutMs must be a number of ms >= 0, got ${String(timeoutMs)}`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const busy =
      p.inflight() > 0 || !p.inline(deadline) || p.local() || (p.store !== undefined && (await storeBusy(p.store, deadline - Date.now(), p.orphanAfterMs)));
    if (!busy) return;
    if (Date.now() >= deadline) throw new FeteError('TIMEOUT', `waitIdle: work was still pending or running after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
