// Durable listeners in the store, and the backlog statistics per listener and topic.
// A listener row is what makes appends (from any process) create its deliveries.
import type { Queryable } from './driver.js';
import type { Tables } from './tables.js';
import type { BacklogCounts } from '../types.js';

export interface ListenerRecord {
  /** The topic name (template) or the pattern the listener was registered on. */
  target: string;
  name: string;
  /** Set for a topic listener: matched by topic name. */
  topic: string | null;
  /** Set for a pattern listener: matched by subject regex. */
  regex: string | null;
  options: Record<string, unknown>;
}

/** Records (or refreshes) a durable listener; returns its id. Same (target, name) = same listener.
 * Registering a retired listener again brings it back (a deploy that still runs it). */
export async function upsertListener(q: Queryable, t: Tables, l: ListenerRecord): Promise<number> {
  const res = await q.query<{ id: number }>(
    `INSERT INTO ${t.listeners} (target, name, topic, regex, options) VALUES ($1, $2, $3, $4, $5::jsonb)
     ON CONFLICT (target, name) DO UPDATE SET topic = EXCLUDED.topic, regex = EXCLUDED.regex,
       options = EXCLUDED.options, seen_at = now(), retired_at = NULL
     RETURNING id`,
    [l.target, l.name, l.topic, l.regex, JSON.stringify(l.options)],
  );
  return res.rows[0]!.id;
}

export interface BacklogRow extends BacklogCounts {
  listenerId: number;
  target: string;
  name: string;
  topic: string;
}

/** Counts per (listener, topic), over undelivered work only (completed deliveries are deleted). */
export async function backlogStats(q: Queryable, t: Tables): Promise<BacklogRow[]> {
  type Row = {
    listener_id: number;
    target: string;
    name: string;
    topic: string;
    pending: number | string;
    running: number | string;
    retrying: number | string;
    dead: number | string;
    oldest_ms: number | string | null;
  };
  const res = await q.query<Row>(
    `SELECT d.listener_id, l.target, l.name, e.topic,
       count(*) FILTER (WHERE d.state = 'pending' AND d.attempts = 0) AS pending,
       count(*) FILTER (WHERE d.state = 'running') AS running,
       count(*) FILTER (WHERE d.state = 'pending' AND d.attempts > 0) AS retrying,
       count(*) FILTER (WHERE d.state = 'dead') AS dead,
       (extract(epoch FROM now() - min(d.run_at) FILTER (WHERE d.state = 'pending' AND d.run_at <= now())) * 1000)::float8 AS oldest_ms
     FROM ${t.deliveries} d
     JOIN ${t.listeners} l ON l.id = d.listener_id
     JOIN ${t.events} e ON e.seq = d.event_seq
     GROUP BY d.listener_id, l.target, l.name, e.topic
     ORDER BY l.target, l.name, e.topic`,
  );
  return res.rows.map((r) => ({
    listenerId: r.listener_id,
    target: r.target,
    name: r.name,
    topic: r.topic,
    pending: Number(r.pending),
    running: Number(r.running),
    retrying: Number(r.retrying),
    dead: Number(r.dead),
    oldestPendingAgeMs: Math.max(0, Math.round(Number(r.oldest_ms ?? 0))),
  }));
}

export interface StoredListener {
  id: number;
  target: string;
  name: string;
  /** When a process last registered or heartbeat it (ISO). */
  seenAt: string;
  /** Not retired, and no process has refreshed it for `orphanAfterMs`. */
  orphaned: boolean;
  retired: boolean;
}

/** Every durable listener recorded in the store (also those no process runs now). */
export async function listListeners(q: Queryable, t: Tables, orphanAfterMs = Infinity): Promise<StoredListener[]> {
  type Row = { id: number; target: string; name: string; seen_at: Date | string; orphaned: boolean; retired: boolean };
  const res = await q.query<Row>(
    `SELECT id, target, name, seen_at, retired_at IS NOT NULL AS retired,
       (retired_at IS NULL AND seen_at < now() - $1::float8 * interval '1 millisecond') AS orphaned
     FROM ${t.listeners} ORDER BY id`,
    [Number.isFinite(orphanAfterMs) ? orphanAfterMs : 1e15],
  );
  return res.rows.map((r) => ({
    id: r.id,
    target: r.target,
    name: r.name,
    seenAt: new Date(r.seen_at).toISOString(),
    orphaned: r.orphaned,
    retired: r.retired,
  }));
}

/** Refreshes `seen_at` of listeners this process registers (listener-heartbeat.ts). Retired ones
 * stay retired: only registering brings a listener back. */
export async function heartbeatListeners(q: Queryable, t: Tables, ids: readonly number[]): Promise<void> {
  if (ids.length === 0) return;
  await q.query(`UPDATE ${t.listeners} SET seen_at = now() WHERE id = ANY($1::int[]) AND retired_at IS NULL`, [ids]);
}

export interface RetireResult {
  /** The listeners retired (one name may be on several targets). */
  listeners: number;
  /** Pending and running deliveries removed. */
  removed: number;
  /** Dead letters removed (with `dropDead`) or kept for inspection. */
  dead: number;
}

/**
 * Retires the listeners named `name` (on `target` only, when given): no new deliveries, pending
 * and running ones deleted (a worker still running one finds its lease gone and its outcome
 * refused), dead letters kept for inspection unless `dropDead`, in which case the listener row
 * goes too. One transaction.
 */
export async function retireListeners(
  q: Queryable,
  t: Tables,
  name: string,
  o: { target?: string | undefined; dropDead?: boolean | undefined },
): Promise<RetireResult & { ids: number[] }> {
  const res = await q.query<{ ids: number[] | null; removed: number | string; dead: number | string }>(
    `WITH l AS (
       UPDATE ${t.listeners} SET retired_at = coalesce(retired_at, now())
       WHERE name = $1 AND ($2::text IS NULL OR target = $2) RETURNING id
     ), gone AS (
       DELETE FROM ${t.deliveries} d USING l
       WHERE d.listener_id = l.id AND (d.state <> 'dead' OR $3) RETURNING d.state
     )
     SELECT (SELECT array_agg(id) FROM l) AS ids,
       (SELECT count(*) FROM gone WHERE state <> 'dead') AS removed,
       CASE WHEN $3 THEN (SELECT count(*) FROM gone WHERE state = 'dead')
         ELSE (SELECT count(*) FROM ${t.deliveries} d JOIN l ON l.id = d.listener_id WHERE d.state = 'dead') END AS dead`,
    [name, o.target ?? null, o.dropDead === true],
  );
  const row = res.rows[0]!;
  const ids = (row.ids ?? []).map(Number);
  // With dropDead nothing of the listener is left: its row goes too (a later register starts afresh).
  if (o.dropDead && ids.length > 0) await q.query(`DELETE FROM ${t.listeners} WHERE id = ANY($1::int[])`, [ids]);
  return { ids, listeners: ids.length, removed: Number(row.removed), dead: Number(row.dead) };
}

/**
 * `replaces`: listener `newId` takes over the deliveries (pending, running, dead) of `oldName` on
 * the same target, which is retired. A delivery of an event the new listener already has is
 * dropped rather than doubled. Run in one transaction (`q`). Returns how many were moved.
 */
export async function takeOverListener(q: Queryable, t: Tables, target: string, oldName: string, newId: number): Promise<number> {
  const old = await q.query<{ id: number }>(
    `UPDATE ${t.listeners} SET retired_at = coalesce(retired_at, now()) WHERE target = $1 AND name = $2 AND id <> $3 RETURNING id`,
    [target, oldName, newId],
  );
  const oldId = old.rows[0]?.id;
  if (oldId === undefined) return 0;
  await q.query(
    `DELETE FROM ${t.deliveries} d WHERE d.listener_id = $1
       AND EXISTS (SELECT 1 FROM ${t.deliveries} n WHERE n.listener_id = $2 AND n.event_seq = d.event_seq)`,
    [oldId, newId],
  );
  const moved = await q.query(`UPDATE ${t.deliveries} SET listener_id = $2 WHERE listener_id = $1`, [oldId, newId]);
  return moved.rowCount;
}

/** Drops one delivery that is dead (or, with `pending`, not running): `fete.skip`. Its
 * listener id (to wake: it may unblock an ordering key), or undefined when there was none. */
export async function skipDelivery(q: Queryable, t: Tables, id: number): Promise<number | undefined> {
  const res = await q.query<{ listener_id: number }>(
    `DELETE FROM ${t.deliveries} WHERE id = $1 AND state IN ('dead', 'pending') RETURNING listener_id`,
    [id],
  );
  return res.rows[0]?.listener_id;
}
