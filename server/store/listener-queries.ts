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

/** Records (or refreshes) a durable listener; returns its id. Same (target, name) = same listener. */
export async function upsertListener(q: Queryable, t: Tables, l: ListenerRecord): Promise<number> {
  const res = await q.query<{ id: number }>(
    `INSERT INTO ${t.listeners} (target, name, topic, regex, options) VALUES ($1, $2, $3, $4, $5::jsonb)
     ON CONFLICT (target, name) DO UPDATE SET topic = EXCLUDED.topic, regex = EXCLUDED.regex,
       options = EXCLUDED.options, seen_at = now()
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

/** Every durable listener recorded in the store (also those no process runs now). */
export async function listListeners(q: Queryable, t: Tables): Promise<Array<{ id: number; target: string; name: string }>> {
  const res = await q.query<{ id: number; target: string; name: string }>(`SELECT id, target, name FROM ${t.listeners} ORDER BY id`);
  return res.rows;
}
