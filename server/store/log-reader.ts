// Reading the log's tail in seq order without skipping events that commit late.
//
// Seqs come from a sequence: handed out in one order, committed in another. A reader can see seq
// 8 while 7 is still in flight, and a seq whose transaction rolled back (or that a duplicate emit
// drew and discarded) never appears. Advancing a cursor past a missing 7 would lose it for good if
// it commits later, so a read stops at the first gap until the gap is known to be final.
//
// How: every append holds a shared advisory lock (one key per schema) from before it draws its
// first seq until its transaction ends (see event-queries.ts). When a reader first sees a gap it
// notes which transactions hold that lock (`pg_locks`, read after the events in the same
// statement); the gap is final once none of them holds it any more, judged by a later read whose
// snapshot is newer than that list. A transaction holding the missing seq was in the list, or had
// already ended before the list was read, and then the later read sees its event. Only fete's own
// appends are waited for: a long transaction elsewhere in the cluster never holds the tail back.
// A read that stops at a new gap reads once more at once; if the gap is still open (an append in
// flight) it returns the cursor before it, and the caller reads again on the next append.
import type { Envelope } from '../../shared/index.js';
import { statement } from './driver.js';
import { type EventRow, rowToEnvelope } from './event-queries.js';
import type { Store } from './open-store.js';
import { APPEND_LOCK_CLASS } from './tables.js';

const MAX_GAPS = 10_000;

export interface ReadResult {
  /** Matching events with `after < seq <= cursor`, in seq order. */
  events: Envelope[];
  /** Everything up to here has been read (matching or not): resume from it. */
  cursor: number;
}

type Row = Partial<EventRow> & { holders: string[] | string; seq: number | string | null; hit: boolean | null; event_id: string | null };

function parseHolders(h: string[] | string): string[] {
  if (Array.isArray(h)) return h;
  return h === '{}' ? [] : h.slice(1, -1).split(',');
}

export class LogReader {
  /** First seq of an open gap -> the appenders in flight when it was first seen. */
  readonly #gaps = new Map<number, readonly string[]>();
  readonly #sql;

  constructor(private readonly store: Store) {
    const t = store.tables;
    this.#sql = statement(
      'read',
      `SELECT e.seq, e.hit, e.event_id, e.topic, e.subject, e.time, e.headers, e.payload, e.context,
         (SELECT coalesce(array_agg(virtualtransaction), '{}') FROM pg_locks
          WHERE locktype = 'advisory' AND classid = ${APPEND_LOCK_CLASS}::oid AND objid = hashtext($4)::oid
            AND objsubid = 2 AND pid <> pg_backend_pid()) AS holders
       FROM (SELECT 1) one LEFT JOIN LATERAL (
         SELECT e.seq, ($3::text IS NULL OR e.subject ~ $3) AS hit, e.id AS event_id, e.topic, e.subject, e.time,
           e.headers, e.payload, e.context
         FROM ${t.events} e WHERE e.seq > $1 ORDER BY e.seq LIMIT $2
       ) e ON true`,
    );
  }

  async read(after: number, limit: number, subjectRegex: string | undefined): Promise<ReadResult> {
    const first = await this.#pass(after, limit, subjectRegex);
    if (!first.newGap) return first;
    // The gap was first seen just now: only a newer snapshot can tell whether it is final.
    const second = await this.#pass(first.cursor, limit - (first.cursor - after), subjectRegex);
    return { events: [...first.events, ...second.events], cursor: second.cursor };
  }

  async #pass(after: number, limit: number, subjectRegex: string | undefined): Promise<ReadResult & { newGap: boolean }> {
    const res = await this.store.driver.query<Row>(this.#sql, [after, Math.max(1, limit), subjectRegex ?? null, this.store.tables.schema]);
    const holders = parseHolders(res.rows[0]?.holders ?? '{}');
    const events: Envelope[] = [];
    let cursor = after;
    let newGap = false;
    let blocked = false;
    let prev = after;
    for (const row of res.rows) {
      if (row.seq === null) break;
      const seq = Number(row.seq);
      if (seq > prev + 1) {
        // Every gap in the window is noted now, so one more read can settle them all.
        const seen = this.#gaps.get(prev + 1);
        if (seen === undefined) {
          this.#gaps.set(prev + 1, holders);
          if (this.#gaps.size > MAX_GAPS) this.#gaps.delete(this.#gaps.keys().next().value!);
          newGap = true;
          blocked = true;
        } else if (seen.some((v) => holders.includes(v))) {
          blocked = true; // an append that was in flight when the gap was seen still is
        } else if (!blocked) {
          this.#gaps.delete(prev + 1);
        }
      }
      prev = seq;
      if (blocked) continue;
      cursor = seq;
      if (row.hit) events.push(rowToEnvelope(row as Parameters<typeof rowToEnvelope>[0]));
    }
    return { events, cursor, newGap };
  }
}
