// The one query behind the "no worker is running" warning (no-worker-watch.ts): the oldest
// delivery that has been due for at least `dueForMs` while nothing anywhere holds a lease. A
// worker of any process claims due work within its poll interval (1 s by default), so a delivery
// due for several intervals with zero running deliveries means no worker is claiming at all.
import type { Queryable } from './driver.js';
import type { Tables } from './tables.js';

export interface UnclaimedDelivery {
  target: string;
  name: string;
  eventId: string;
}

export async function oldestUnclaimed(q: Queryable, t: Tables, dueForMs: number): Promise<UnclaimedDelivery | undefined> {
  const res = await q.query<{ target: string; name: string; event_id: string }>(
    `SELECT l.target, l.name, e.id AS event_id
       FROM ${t.deliveries} d
       JOIN ${t.listeners} l ON l.id = d.listener_id
       JOIN ${t.events} e ON e.seq = d.event_seq
      WHERE d.state = 'pending' AND d.run_at <= now() - make_interval(secs => $1::float8 / 1000)
        AND NOT EXISTS (SELECT 1 FROM ${t.deliveries} r WHERE r.state = 'running')
      ORDER BY d.run_at
      LIMIT 1`,
    [dueForMs],
  );
  const row = res.rows[0];
  return row === undefined ? undefined : { target: row.target, name: row.name, eventId: String(row.event_id) };
}
