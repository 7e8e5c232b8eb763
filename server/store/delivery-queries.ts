// The dispatcher's queries, one operation each: claim, complete, fail, release, heartbeat, rescue,
// and the dead-letter operations. Every state change of a running delivery names its lease token:
// a worker whose lease was rescued and re-claimed can no longer complete, fail or extend it.
import { randomUUID } from 'node:crypto';
import type { Envelope } from '../../shared/index.js';
import { type Queryable, statement } from './driver.js';
import { EVENT_COLUMNS, type EventRow, rowToEnvelope } from './event-queries.js';
import type { Tables } from './tables.js';
import type { DeadLetter } from '../types.js';

/** A delivery claimed by this worker, with its event. */
export interface Claimed {
  id: number;
  listenerId: number;
  attempt: number;
  token: string;
  envelope: Envelope;
  /** The delivery's ordering key, if any: its completion may unblock the next of the key. */
  orderKey?: string | undefined;
}

/** What one claim returned: the deliveries, and in how many ms the listener's next pending
 * delivery is due when the claim was short (undefined: none, or the claim was full). */
export interface ClaimBatch {
  claimed: Claimed[];
  nextDueMs: number | undefined;
}

export interface Lease {
  id: number;
  token: string;
}

/*
 * Lease checks. A lease token is set by a claim and cleared by every move out of `running`, so
 * `lease_token = $token` alone means "still running under this lease". The statements below say
 * nothing more on purpose: with `state = 'running'` in them, a generic plan (prepared statements
 * switch to one after five runs) that expected few running rows walked the partial lease index as
 * the outer side of a nested loop over unnest(), quadratic in the leases held; a heartbeat over
 * 10,000 held leases ran for minutes. Without it they look each id up in the primary key.
 *
 * Relaxed commits. The worker's own bookkeeping statements (claim, batched completion, failure,
 * release, heartbeat, rescue) commit with synchronous_commit off, set for their own implicit
 * transaction by a one-time filter. If the *database* crashes within its WAL writer delay
 * (~200 ms) such a commit can be lost, and the result is always safe: a lost claim or heartbeat
 * leaves the delivery to the rescuer, a lost completion runs the handler again (at least once,
 * as with any crash between handler and completion). Appends (emits) and a handler's `ctx.tx`
 * transaction always commit synchronously. Measured on PostgreSQL 15 here: a one-row claim
 * 0.52 ms prepared, 0.38 ms prepared and relaxed. Not on PGlite: there the database dies with
 * the worker's process, and a SIGKILL would lose the claims that count attempts (measured: the
 * cut-off attempt came back as attempt 1).
 */
const RELAXED_FILTER = `(SELECT set_config('synchronous_commit', 'off', true)) IS NOT NULL`;

type ClaimRow = EventRow & { id: number | string; event_id: string; attempts: number; lease_token: string; order_key?: string | null };

function build(t: Tables) {
  const RELAXED = t.relaxedCommits ? RELAXED_FILTER : 'true';
  return {
    /*
     * The claim. The inner SELECT walks the partial index deliveries_ready (listener_id, run_at,
     * id) WHERE state = 'pending' in order and stops at LIMIT; FOR UPDATE SKIP LOCKED makes
     * concurrent claimers (other workers, other processes) step over rows someone else is taking
     * instead of queueing behind them, so N workers claim N disjoint batches in parallel. Order is
     * (run_at, id): first-come first-served within a listener, retries slotting in when due. The
     * UPDATE moves the rows to `running` with a fresh token (one per claim: a token only has to
     * differ from every earlier claim of the same row, and gen_random_uuid() per row cost PGlite a
     * JS crypto call each) and a deadline, and counts the attempt up front, so a worker that dies
     * mid-handler has still used one attempt (a poison event that kills its worker ends up dead
     * instead of killing workers forever). The join to the event happens after the update, on the
     * primary key, for the claimed rows only.
     *
     * The UPDATE takes the picked ids as an array (`= ANY (ARRAY(...))`), not as a join: joined,
     * the planner estimated LIMIT rows from `picked` and, once that was a few percent of the table,
     * hashed a sequential scan of all deliveries instead (measured: a 200-row claim on a 30,000-row
     * table 8.3 ms instead of ~2 ms; 400 rows on 60,000, 16 ms instead of 3.1). The array form
     * looks each id up in the primary key at any size.
     *
     * Ordering keys. A delivery with an `order_key` is only picked when no delivery of the same
     * listener and key with an earlier event seq exists at all: pending (not due yet, or retrying),
     * running (leased by any process) or dead (a dead letter blocks its key until retried or
     * skipped, pg-boss's strict FIFO). Completed deliveries are deleted, so "exists" is the whole
     * test; it is a probe of deliveries_order (listener_id, order_key, event_seq) per keyed
     * candidate, and `order_key IS NULL` skips it for unkeyed ones. Two claimers racing: the first
     * locks the head of a key; the second skips that locked row and still sees it pending in its
     * snapshot, so it does not take the next one either. At most one delivery per key per claim.
     *
     * Next due. When the claim comes back short (the listener is drained), the same statement
     * says how long until its next pending delivery becomes due (a delayed emit, a retry's
     * backoff): the dispatcher sets one timer for it instead of waiting for the poll. It is one
     * probe of deliveries_ready (run_at > now() is an index bound); a full claim skips it.
     *
     * Measured here (PostgreSQL 15, 2 shared cores): one-row claim 0.76 ms as an unnamed
     * statement, 0.52 ms prepared, 0.38 ms prepared and relaxed; in batches of 200, ~50 us a row.
     * PGlite: ~57 us a row in the executor for a batch of 500 plus ~1.5 ms planning per call (it
     * prepares nothing), hence its larger default batch. Draining 100,000 no-op deliveries at
     * concurrency 24 with these claims and the Completer: ~55,000-62,000/s on PostgreSQL (claims
     * of 500), ~24,000/s on PGlite in a directory (claims of 1000: ~27 ms, their completion ~13 ms).
     */
    claim: statement('claim', `
WITH picked AS (
  SELECT d.id FROM ${t.deliveries} d
  WHERE d.listener_id = $1 AND d.state = 'pending' AND d.run_at <= now() AND ${RELAXED}
    AND (d.order_key IS NULL OR NOT EXISTS (
      SELECT 1 FROM ${t.deliveries} b
      WHERE b.listener_id = d.listener_id AND b.order_key = d.order_key AND b.event_seq < d.event_seq))
  ORDER BY d.run_at, d.id
  LIMIT $2
  FOR UPDATE SKIP LOCKED
), claimed AS (
  UPDATE ${t.deliveries} d
  SET state = 'running', attempts = d.attempts + 1, lease_token = $4::uuid,
      lease_until = now() + $3 * interval '1 millisecond'
  WHERE d.id = ANY (ARRAY(SELECT id FROM picked))
  RETURNING d.id, d.event_seq, d.attempts, d.lease_token, d.order_key
), next AS (
  SELECT CASE WHEN (SELECT count(*) FROM claimed) < $2 THEN
    (SELECT (extract(epoch FROM min(run_at) - now()) * 1000)::float8 FROM ${t.deliveries}
     WHERE listener_id = $1 AND state = 'pending' AND run_at > now()) END AS next_due_ms
)
SELECT c.id, c.attempts, c.lease_token, c.order_key, ${EVENT_COLUMNS}, n.next_due_ms
FROM next n LEFT JOIN (claimed c JOIN ${t.events} e ON e.seq = c.event_seq) ON true
ORDER BY c.id`),
    // Completed deliveries are deleted; the batch form is the group commit of many handlers.
    completeMany: statement('complete_many', `
DELETE FROM ${t.deliveries} d USING unnest($1::bigint[], $2::uuid[]) AS c(id, token)
WHERE d.id = c.id AND d.lease_token = c.token AND ${RELAXED}
RETURNING d.id`),
    // Inside the handler's transaction: commits as the app's writes do (synchronously).
    completeOne: statement('complete_one', `DELETE FROM ${t.deliveries} WHERE id = $1 AND lease_token = $2`),
    fail: statement('fail', `
UPDATE ${t.deliveries}
SET state = CASE WHEN $3 THEN 'dead' ELSE 'pending' END,
    run_at = now() + $4 * interval '1 millisecond',
    lease_token = NULL, lease_until = NULL, last_error = $5
WHERE id = $1 AND lease_token = $2 AND ${RELAXED}`),
    // Gives back claimed work that never ran (stop): the attempt is returned too.
    release: statement('release', `
UPDATE ${t.deliveries} d
SET state = 'pending', attempts = greatest(d.attempts - $3::int, 0), lease_token = NULL, lease_until = NULL
FROM unnest($1::bigint[], $2::uuid[]) AS c(id, token)
WHERE d.id = c.id AND d.lease_token = c.token AND ${RELAXED}
RETURNING d.listener_id`),
    heartbeat: statement('heartbeat', `
UPDATE ${t.deliveries} d SET lease_until = now() + $3 * interval '1 millisecond'
FROM unnest($1::bigint[], $2::uuid[]) AS c(id, token)
WHERE d.id = c.id AND d.lease_token = c.token AND ${RELAXED}
RETURNING d.id`),
    // Expired leases go back to pending at once (no backoff: the worker died, the handler may not
    // have failed). SKIP LOCKED: a row being completed right now is left to its transaction.
    rescue: statement('rescue', `
WITH expired AS (
  SELECT id FROM ${t.deliveries}
  WHERE state = 'running' AND lease_until < now() AND ${RELAXED}
  ORDER BY lease_until LIMIT $1
  FOR UPDATE SKIP LOCKED
)
UPDATE ${t.deliveries} d
SET state = 'pending', run_at = now(), lease_token = NULL, lease_until = NULL,
    last_error = 'lease expired: the worker stopped heartbeating (crashed, killed or stalled)'
FROM expired WHERE d.id = expired.id
RETURNING d.listener_id`),
    releaseAllRunning: `
UPDATE ${t.deliveries}
SET state = 'pending', run_at = now(), lease_token = NULL, lease_until = NULL,
    last_error = 'the process holding the lease ended before finishing'
WHERE state = 'running'
RETURNING listener_id`,
    retryDead: `
UPDATE ${t.deliveries} SET state = 'pending', attempts = 0, run_at = now()
WHERE id = $1 AND state = 'dead'
RETURNING listener_id`,
    listDead: `
SELECT d.id, d.attempts, d.last_error, d.run_at AS failed_at, l.target, l.name, ${EVENT_COLUMNS}
FROM ${t.deliveries} d
JOIN ${t.listeners} l ON l.id = d.listener_id
JOIN ${t.events} e ON e.seq = d.event_seq
WHERE d.state = 'dead' AND d.id > $1 AND ($3::text IS NULL OR l.name = $3)
ORDER BY d.id LIMIT $2`,
    notify: `SELECT pg_notify($1, $2) IS NULL AS notified`,
  };
}

const cache = new WeakMap<Tables, ReturnType<typeof build>>();
function sql(t: Tables): ReturnType<typeof build> {
  let s = cache.get(t);
  if (!s) cache.set(t, (s = build(t)));
  return s;
}

/** Ids ascending: statements that lock several deliveries lock them in one order, so a heartbeat
 * and a batch completion over overlapping rows wait for each other instead of deadlocking. */
function leaseArrays(leases: readonly Lease[]): [number[], string[]] {
  const sorted = [...leases].sort((a, b) => a.id - b.id);
  return [sorted.map((l) => l.id), sorted.map((l) => l.token)];
}

export async function claimBatch(q: Queryable, t: Tables, listenerId: number, limit: number, leaseMs: number): Promise<ClaimBatch> {
  const res = await q.query<ClaimRow & { next_due_ms: number | null }>(sql(t).claim, [listenerId, limit, leaseMs, randomUUID()]);
  const claimed: Claimed[] = [];
  for (const r of res.rows)
    if (r.id !== null)
      claimed.push({ id: Number(r.id), listenerId, attempt: r.attempts, token: r.lease_token, envelope: rowToEnvelope(r), orderKey: r.order_key ?? undefined });
  const next = res.rows[0]?.next_due_ms;
  return { claimed, nextDueMs: next === null || next === undefined ? undefined : Math.max(0, Number(next)) };
}

export async function claimDeliveries(q: Queryable, t: Tables, listenerId: number, limit: number, leaseMs: number): Promise<Claimed[]> {
  return (await claimBatch(q, t, listenerId, limit, leaseMs)).claimed;
}

/** Completes the deliveries whose lease is still theirs; returns the ids that were completed. */
export async function completeDeliveries(q: Queryable, t: Tables, leases: readonly Lease[]): Promise<Set<number>> {
  const res = await q.query<{ id: number | string }>(sql(t).completeMany, leaseArrays(leases));
  return new Set(res.rows.map((r) => Number(r.id)));
}

/** Completes one delivery (inside the handler's transaction); false when the lease was lost. */
export async function completeDelivery(q: Queryable, t: Tables, lease: Lease): Promise<boolean> {
  const res = await q.query(sql(t).completeOne, [lease.id, lease.token]);
  return res.rowCount === 1;
}

export interface FailOptions {
  dead: boolean;
  delayMs: number;
  error: string;
}

/** Records a failed attempt (retry later, or dead letter); false when the lease was lost. */
export async function failDelivery(q: Queryable, t: Tables, lease: Lease, f: FailOptions): Promise<boolean> {
  const res = await q.query(sql(t).fail, [lease.id, lease.token, f.dead, f.dead ? 0 : f.delayMs, f.error]);
  return res.rowCount === 1;
}

/** Gives claimed deliveries back; `returnAttempt` when the handler never started. */
export async function releaseDeliveries(q: Queryable, t: Tables, leases: readonly Lease[], returnAttempt: boolean): Promise<number[]> {
  if (leases.length === 0) return [];
  const res = await q.query<{ listener_id: number }>(sql(t).release, [...leaseArrays(leases), returnAttempt ? 1 : 0]);
  return res.rows.map((r) => r.listener_id);
}

/** Extends leases still held; returns the ids whose lease is still this worker's. */
export async function heartbeatDeliveries(q: Queryable, t: Tables, leases: readonly Lease[], leaseMs: number): Promise<Set<number>> {
  const res = await q.query<{ id: number | string }>(sql(t).heartbeat, [...leaseArrays(leases), leaseMs]);
  return new Set(res.rows.map((r) => Number(r.id)));
}

/** Re-offers up to `limit` deliveries whose lease expired; returns their listener ids. */
export async function rescueExpired(q: Queryable, t: Tables, limit: number): Promise<number[]> {
  const res = await q.query<{ listener_id: number }>(sql(t).rescue, [limit]);
  return res.rows.map((r) => r.listener_id);
}

/** Re-offers every running delivery: on an embedded store, whoever held them is gone. */
export async function releaseAllRunning(q: Queryable, t: Tables): Promise<number[]> {
  const res = await q.query<{ listener_id: number }>(sql(t).releaseAllRunning);
  return res.rows.map((r) => r.listener_id);
}

/** Puts a dead delivery back to pending with a fresh set of attempts; its listener id, or undefined. */
export async function retryDeadDelivery(q: Queryable, t: Tables, id: number): Promise<number | undefined> {
  const res = await q.query<{ listener_id: number }>(sql(t).retryDead, [id]);
  return res.rows[0]?.listener_id;
}

export async function listDeadDeliveries(
  q: Queryable,
  t: Tables,
  options: { after?: number; limit?: number; listener?: string },
): Promise<DeadLetter[]> {
  type Row = ClaimRow & { last_error: string | null; failed_at: Date | string; target: string; name: string };
  const res = await q.query<Row>(sql(t).listDead, [options.after ?? 0, options.limit ?? 100, options.listener ?? null]);
  return res.rows.map((r) => ({
    id: Number(r.id),
    listener: { target: r.target, name: r.name },
    attempts: r.attempts,
    lastError: r.last_error,
    failedAt: new Date(r.failed_at).toISOString(),
    envelope: rowToEnvelope(r),
  }));
}

/** Wakes workers of these listeners (and log tails) in every process. */
export async function notifyWake(q: Queryable, t: Tables, listenerIds: readonly number[]): Promise<void> {
  if (listenerIds.length === 0) return;
  const ids = [...new Set(listenerIds)].join(',');
  await q.query(sql(t).notify, [t.channel, `|${ids.length > 7000 ? '*' : ids}`]);
}
