// The queries of per-topic retention: the index the prune walks, one prune batch of one topic
// (which also moves that topic's watermark, in the same statement), and the watermarks a resume
// checks. Topic names and limits are parameters; only the validated schema is in the SQL text.
import type { Queryable } from './driver.js';
import type { Tables } from './tables.js';

/** What a topic declares (shared/topic.ts `Retention`), plus how young an event may be pruned. */
export interface PruneRule {
  topic: string;
  maxAgeMs: number | undefined;
  maxEvents: number | undefined;
  /** Events younger than this are kept whatever the rule says (see retention-job.ts). */
  graceMs: number;
  /** Deliveries of listeners not seen for this long (orphans) do not keep events; undefined:
   * every delivery keeps its event (`orphanRetention: 'pin'`). */
  orphanAfterMs?: number | undefined;
}

/**
 * Created by the retention job the first time it runs on a store, not by a migration: a store
 * whose topics declare no retention never pays its insert on every append.
 */
export async function ensurePruneIndex(q: Queryable, t: Tables): Promise<void> {
  await q.query(`CREATE INDEX IF NOT EXISTS events_topic_seq ON ${t.events} (topic, seq)`);
}

/**
 * Deletes up to `limit` of the oldest events of one topic that its rule lets go, and raises the
 * topic's watermark to the highest seq deleted, in one statement (a reader never sees an event
 * gone without the watermark that reports it). The cut is a seq, found on (topic, seq):
 * - maxAgeMs: the first event of the topic at most that old (every event before it is older);
 * - maxEvents: the oldest of the newest maxEvents events of the topic;
 * - graceMs: the first event of the topic at most that old, always.
 * Events below the cut that still have a delivery row (pending, running, or a dead letter that
 * may be retried) are kept: their listeners have not finished with them; with `orphanAfterMs`,
 * rows of listeners not seen for that long (orphans, not retired) do not keep them, and are
 * deleted with the event.
 */
function pruneSql(t: Tables): string {
  return `
WITH cut AS (
  SELECT least(
    CASE WHEN $2::float8 IS NULL THEN NULL ELSE coalesce(
      (SELECT e.seq FROM ${t.events} e WHERE e.topic = $1 AND e.time >= now() - $2::float8 * interval '1 millisecond' ORDER BY e.seq LIMIT 1),
      9223372036854775807) END,
    CASE WHEN $3::bigint IS NULL THEN NULL ELSE coalesce(
      (SELECT e.seq FROM ${t.events} e WHERE e.topic = $1 ORDER BY e.seq DESC OFFSET $3::bigint - 1 LIMIT 1),
      0) END,
    coalesce(
      (SELECT e.seq FROM ${t.events} e WHERE e.topic = $1 AND e.time >= now() - $4::float8 * interval '1 millisecond' ORDER BY e.seq LIMIT 1),
      9223372036854775807)
  ) AS seq
), victims AS (
  SELECT e.seq FROM ${t.events} e, cut
  WHERE e.topic = $1 AND e.seq < cut.seq
    AND NOT EXISTS (
      SELECT 1 FROM ${t.deliveries} d JOIN ${t.listeners} l ON l.id = d.listener_id
      WHERE d.event_seq = e.seq
        AND ($6::float8 IS NULL OR l.retired_at IS NOT NULL OR l.seen_at >= now() - $6::float8 * interval '1 millisecond'))
  ORDER BY e.seq LIMIT $5
), orphaned AS (
  -- What orphaned listeners still owed of the pruned events goes with them (retention-job.ts).
  DELETE FROM ${t.deliveries} d USING victims v WHERE d.event_seq = v.seq
), gone AS (
  DELETE FROM ${t.events} e USING victims v WHERE e.seq = v.seq RETURNING e.seq
), mark AS (
  INSERT INTO ${t.retention} AS r (topic, pruned_through)
  SELECT $1, max(seq) FROM gone HAVING count(*) > 0
  ON CONFLICT (topic) DO UPDATE SET pruned_through = greatest(r.pruned_through, excluded.pruned_through), pruned_at = now()
  RETURNING pruned_through
)
SELECT (SELECT count(*) FROM gone) AS deleted, (SELECT pruned_through FROM mark) AS through`;
}

const cache = new WeakMap<Tables, string>();

/** One prune batch of one topic: how many events went, and the topic's watermark if it moved. */
export async function pruneTopic(q: Queryable, t: Tables, rule: PruneRule, limit: number): Promise<{ deleted: number; through: number | undefined }> {
  let text = cache.get(t);
  if (text === undefined) cache.set(t, (text = pruneSql(t)));
  const res = await q.query<{ deleted: number | string; through: number | string | null }>(text, [
    rule.topic,
    rule.maxAgeMs ?? null,
    rule.maxEvents ?? null,
    rule.graceMs,
    limit,
    rule.orphanAfterMs ?? null,
  ]);
  const row = res.rows[0];
  return { deleted: Number(row?.deleted ?? 0), through: row?.through === null || row?.through === undefined ? undefined : Number(row.through) };
}

/** Topics pruned past `after`: a resume from `after` may miss events of these. */
export async function prunedAfter(q: Queryable, t: Tables, after: number): Promise<Array<{ topic: string; through: number }>> {
  const res = await q.query<{ topic: string; pruned_through: number | string }>(
    `SELECT topic, pruned_through FROM ${t.retention} WHERE pruned_through > $1`,
    [after],
  );
  return res.rows.map((r) => ({ topic: r.topic, through: Number(r.pruned_through) }));
}
