// Where `delivery: 'latest'` topics keep their values: one row per (tenant, subject), upserted
// instead of appended (server/sql/008_latest.sql), or a map under `dispatch: 'inline'`. Each
// upsert gives the subject's next version (1, 2, ...), computed under the row lock, so versions of
// one subject grow in commit order. Reads serve new subscriptions: the current values of one
// tenant whose subjects match a pattern, in subject order, a page at a time.
//
// Clear and expiry (server/sql/012_latest_expiry.sql): a clear, or the sweep of a value past its
// topic's ttlMs, turns the row into a tombstone at the next version instead of deleting it, so
// that the subject's versions keep growing (a receiver would drop a revived value at version 1).
// Values past their expiry are never read as current, swept or not.
//
// Removals bounded in time (server/sql/013_latest_removals.sql): each tombstone records when it
// was made and, once it has settled (every live subscriber has had it, or lost its connection:
// `settle`), the log position a resume compares with its cursor. A resume reads only the
// removals at or after its cursor (or not settled yet), and `prune` deletes settled tombstones
// past the horizon, recording per tenant how far it went (`prunedThrough`: an older resume is told
// that its snapshot is complete instead) and the highest version it deleted (a revived subject
// starts above it: versions keep growing for receivers that still hold the removal).
import { type Envelope, type LatestClearReason, type LatestCleared, matches } from '../../shared/index.js';
import { decodeStoredValue, payloadTextOf } from '../../shared/codec.js';
import type { Driver, Queryable } from '../store/driver.js';
import { statement } from '../store/driver.js';
import { patternToRegex } from '../store/pattern-regex.js';
import { storedHeaders, storedTime } from '../store/event-queries.js';
import type { Tables } from '../store/tables.js';
import { tenantOf } from '../security/tenant.js';

/** A log position: the high water of the log (every seq handed out so far; a seq of no event is
 * never above it). */
export type LogHighWater = () => Promise<number>;

export interface LatestPageQuery {
  tenant: string;
  pattern: string;
  /** Only values of these topics (the exposed `latest` topics the pattern can match). */
  topics: readonly string[];
  /** Subjects after this one (keyset paging); undefined for the first page. */
  after?: string | undefined;
  limit: number;
}

export interface LatestRemovalsQuery extends LatestPageQuery {
  /** Only removals settled at or after this log position, or not settled yet; undefined: all. */
  since?: number | undefined;
}

/** A removed value, as the store reports it: the notice and its tenant. */
export interface LatestRemoval extends LatestCleared {
  tenant: string;
}

export interface LatestStore {
  /** Stores each envelope as its subject's current value (in its tenant); returns the versions,
   * in order, or undefined for an envelope whose id is already the subject's current value (a
   * resend after a lost ack: nothing changes, the emit is a duplicate). In `q` (a transaction)
   * when given. */
  upsert(envelopes: readonly Envelope[], q?: Queryable): Promise<Array<number | undefined>>;
  /** Current values (envelopes with `version`, without seq or context), in subject order;
   * neither cleared nor past their expiry. */
  page(query: LatestPageQuery): Promise<Envelope[]>;
  /** Tombstones (values cleared or swept, with the removal's version), in subject order; with
   * `since`, only those a resume from that cursor may have missed. */
  tombstones(query: LatestRemovalsQuery): Promise<LatestCleared[]>;
  /** Removes the value of (`tenant`, `subject`) of `topic`: the removal, or undefined when the
   * subject has no value (nothing to do). */
  clear(tenant: string, topic: string, subject: string): Promise<LatestRemoval | undefined>;
  /** Turns at most `limit` values past their expiry into tombstones ('expired'); the removals. */
  sweep(limit: number): Promise<LatestRemoval[]>;
  /** Stamps at most `limit` removals made `settleMs` or more ago with the log's high water now
   * (what `since` compares with); how many. */
  settle(settleMs: number, limit: number): Promise<number>;
  /** Deletes at most `limit` settled tombstones removed `keepMs` or more ago, recording each
   * tenant's horizon; how many, per topic. */
  prune(keepMs: number, limit: number): Promise<Map<string, number>>;
  /** The highest log position of a pruned removal of `tenant` (a resume from a cursor at or below
   * it may have missed a removal no longer kept), or undefined when none was pruned. */
  prunedThrough(tenant: string): Promise<number | undefined>;
}

/** The expiry of a topic's values in milliseconds after each emit (its `ttlMs`), if any. */
export type TtlOf = (topic: string) => number | undefined;

type LatestRow = {
  subject: string;
  topic: string;
  id: string;
  version: string | number;
  time: Date | string;
  headers: Record<string, string> | string;
  payload: string;
};

/** The store's latest table (PostgreSQL and PGlite alike). */
export function storeLatest(driver: Driver, tables: Tables, ttlOf: TtlOf = () => undefined): LatestStore {
  const table = `${tables.quotedSchema}.latest`;
  const horizon = `${tables.quotedSchema}.latest_horizon`;
  // The high water of the log (store-log.ts): at or above every seq handed out, pruned or not.
  const highWater = `(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM ${tables.quotedSchema}.events_seq_seq)`;
  // A resend of the current value's id is a duplicate, also after a clear (the emit happened; the
  // clear came after it): nothing is revived. A new row starts above the versions of its tenant's
  // pruned tombstones (one primary-key read of a row per tenant).
  const upsert = statement(
    'latest_upsert',
    `INSERT INTO ${table} AS l (tenant, subject, topic, id, version, time, headers, payload, expires_at)
     VALUES ($1, $2, $3, $4, COALESCE((SELECT max_version FROM ${horizon} WHERE tenant = $1), 0) + 1, $5, $6::jsonb, $7, now() + $8::bigint * interval '1 millisecond')
     ON CONFLICT (tenant, subject) DO UPDATE SET topic = EXCLUDED.topic, id = EXCLUDED.id, version = l.version + 1,
       time = EXCLUDED.time, headers = EXCLUDED.headers, payload = EXCLUDED.payload, updated_at = now(),
       expires_at = EXCLUDED.expires_at, cleared = NULL, removed_at = NULL, removed_through = NULL
     WHERE l.id <> EXCLUDED.id
     RETURNING l.version`,
  );
  const page = statement(
    'latest_page',
    `SELECT subject, topic, id, version, time, headers, payload FROM ${table}
     WHERE tenant = $1 AND topic = ANY($2::text[]) AND subject ~ $3 AND ($4::text IS NULL OR subject > $4)
       AND cleared IS NULL AND (expires_at IS NULL OR expires_at > now())
     ORDER BY subject LIMIT $5`,
  );
  // The removals at or after `since` first (latest_removals: what the resume is sent, not every
  // tombstone kept), then the page of them in subject order. MATERIALIZED keeps the planner from
  // walking latest_topic in subject order instead, filtering every row of the tenant (a page
  // asks for few rows, so that plan looks cheap: 100,000 tombstones kept, 11 due: 288 ms a resume).
  const tombstones = statement(
    'latest_tombstones',
    `WITH due AS MATERIALIZED (
       SELECT subject, topic, version, cleared FROM ${table}
       WHERE tenant = $1 AND cleared IS NOT NULL AND COALESCE(removed_through, 9223372036854775807) >= $6::bigint
     )
     SELECT subject, topic, version, cleared FROM due
     WHERE topic = ANY($2::text[]) AND subject ~ $3 AND ($4::text IS NULL OR subject > $4)
     ORDER BY subject LIMIT $5`,
  );
  // Every tombstone of the pattern (no `since`): walked in subject order.
  const allTombstones = statement(
    'latest_all_tombstones',
    `SELECT subject, topic, version, cleared FROM ${table}
     WHERE tenant = $1 AND cleared IS NOT NULL AND topic = ANY($2::text[]) AND subject ~ $3 AND ($4::text IS NULL OR subject > $4)
     ORDER BY subject LIMIT $5`,
  );
  const clear = statement(
    'latest_clear',
    `UPDATE ${table} SET cleared = 'cleared', version = version + 1, payload = '', headers = '{}'::jsonb, expires_at = NULL, updated_at = now(),
       removed_at = now(), removed_through = NULL
     WHERE tenant = $1 AND subject = $2 AND topic = $3 AND cleared IS NULL
       -- A value past its expiry is the sweep's to remove (as 'expired'): it has no value to clear.
       AND (expires_at IS NULL OR expires_at > now())
     RETURNING version`,
  );
  // SKIP LOCKED: processes sweeping at once take disjoint rows; the outer conditions are checked
  // again on the locked row, so a value re-emitted meanwhile (a new expiry) is not swept, and each
  // expiry is reported by one process only.
  const sweep = statement(
    'latest_sweep',
    `UPDATE ${table} AS l SET cleared = 'expired', version = l.version + 1, payload = '', headers = '{}'::jsonb, expires_at = NULL, updated_at = now(),
       removed_at = now(), removed_through = NULL
     FROM (SELECT tenant, subject FROM ${table} WHERE cleared IS NULL AND expires_at <= now() ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED) AS due
     WHERE l.tenant = due.tenant AND l.subject = due.subject AND l.cleared IS NULL AND l.expires_at <= now()
     RETURNING l.tenant, l.subject, l.topic, l.version`,
  );
  // Oldest first, disjoint rows per process (SKIP LOCKED); the conditions are checked again on the
  // locked row (a subject revived meanwhile is no tombstone any more).
  const settle = statement(
    'latest_settle',
    `UPDATE ${table} AS l SET removed_through = ${highWater}
     FROM (SELECT tenant, subject FROM ${table} WHERE cleared IS NOT NULL AND removed_through IS NULL AND removed_at <= now() - $1::bigint * interval '1 millisecond'
           ORDER BY removed_at LIMIT $2 FOR UPDATE SKIP LOCKED) AS due
     WHERE l.tenant = due.tenant AND l.subject = due.subject AND l.cleared IS NOT NULL AND l.removed_through IS NULL`,
  );
  // One statement: the tombstones go and their tenants' horizons move together, so a reader sees
  // both or neither (a resume never finds a removal gone without the horizon that says so).
  const prune = statement(
    'latest_prune',
    `WITH gone AS (
       DELETE FROM ${table} AS l
       USING (SELECT tenant, subject FROM ${table} WHERE cleared IS NOT NULL AND removed_through IS NOT NULL AND removed_at <= now() - $1::bigint * interval '1 millisecond'
              ORDER BY removed_at LIMIT $2 FOR UPDATE SKIP LOCKED) AS due
       WHERE l.tenant = due.tenant AND l.subject = due.subject AND l.cleared IS NOT NULL AND l.removed_through IS NOT NULL
       RETURNING l.tenant, l.topic, l.removed_through, l.version
     ), marks AS (
       INSERT INTO ${horizon} AS h (tenant, pruned_through, max_version)
       SELECT tenant, max(removed_through), max(version) FROM gone GROUP BY tenant
       ON CONFLICT (tenant) DO UPDATE SET pruned_through = GREATEST(h.pruned_through, EXCLUDED.pruned_through),
         max_version = GREATEST(h.max_version, EXCLUDED.max_version)
     )
     SELECT topic, count(*)::int AS n FROM gone GROUP BY topic`,
  );
  const prunedThrough = statement('latest_pruned_through', `SELECT pruned_through FROM ${horizon} WHERE tenant = $1`);
  return {
    async upsert(envelopes, q) {
      const run = async (db: Queryable) => {
        const versions: Array<number | undefined> = [];
        // One statement per value, in order: two values of one subject in one batch both count.
        for (const e of envelopes) {
          const res = await db.query<{ version: string | number }>(upsert, [
            tenantOf(e),
            e.subject,
            e.topic,
            e.id,
            e.time,
            JSON.stringify(e.headers),
            payloadTextOf(e),
            ttlOf(e.topic) ?? null,
          ]);
          const row = res.rows[0];
          versions.push(row === undefined ? undefined : Number(row.version));
        }
        return versions;
      };
      if (q) return run(q);
      if (envelopes.length === 1) return run(driver);
      return driver.transaction(run);
    },
    async page({ tenant, pattern, topics, after, limit }) {
      if (topics.length === 0) return [];
      const res = await driver.query<LatestRow>(page, [tenant, topics, patternToRegex(pattern), after ?? null, limit]);
      return res.rows.map(rowToValue);
    },
    async tombstones({ tenant, pattern, topics, after, limit, since }) {
      if (topics.length === 0) return [];
      const params = [tenant, topics, patternToRegex(pattern), after ?? null, limit];
      const res = await driver.query<{ subject: string; topic: string; version: string | number; cleared: LatestClearReason }>(
        since === undefined ? allTombstones : tombstones,
        since === undefined ? params : [...params, since],
      );
      return res.rows.map((r) => ({ topic: r.topic, subject: r.subject, version: Number(r.version), reason: r.cleared }));
    },
    async clear(tenant, topic, subject) {
      const res = await driver.query<{ version: string | number }>(clear, [tenant, subject, topic]);
      const row = res.rows[0];
      return row === undefined ? undefined : { tenant, topic, subject, version: Number(row.version), reason: 'cleared' };
    },
    async sweep(limit) {
      const res = await driver.query<{ tenant: string; subject: string; topic: string; version: string | number }>(sweep, [limit]);
      return res.rows.map((r) => ({ tenant: r.tenant, topic: r.topic, subject: r.subject, version: Number(r.version), reason: 'expired' as const }));
    },
    async settle(settleMs, limit) {
      return (await driver.query(settle, [settleMs, limit])).rowCount ?? 0;
    },
    async prune(keepMs, limit) {
      const res = await driver.query<{ topic: string; n: number }>(prune, [keepMs, limit]);
      return new Map(res.rows.map((r) => [r.topic, Number(r.n)]));
    },
    async prunedThrough(tenant) {
      const res = await driver.query<{ pruned_through: string | number }>(prunedThrough, [tenant]);
      const row = res.rows[0];
      return row === undefined ? undefined : Number(row.pruned_through);
    },
  };
}

function rowToValue(row: LatestRow): Envelope {
  return {
    id: row.id,
    topic: row.topic,
    subject: row.subject,
    time: storedTime(row.time),
    headers: storedHeaders(row.headers),
    payload: decodeStoredValue(row.payload),
    context: {},
    version: Number(row.version),
  };
}

/** One subject's row in memory: its value, or a tombstone (`cleared`, the value's id kept, with
 * when it was removed and, once settled, the log position). */
interface MemoryRow {
  value: Envelope;
  expiresAt: number | undefined;
  cleared: LatestClearReason | undefined;
  removedAt?: number | undefined;
  removedThrough?: number | undefined;
}

/** `dispatch: 'inline'`: the values in memory (gone with the process, like the in-memory log), with
 * the same tombstones, expiry, settling and pruning as the store (on this process's clock).
 * `highWater`: the in-memory log's (removals are settled at its position). */
export function memoryLatest(ttlOf: TtlOf = () => undefined, now: () => number = Date.now, highWater: LogHighWater = async () => 0): LatestStore {
  const byTenant = new Map<string, Map<string, MemoryRow>>();
  /** Per tenant, what pruning removed (the store's latest_horizon). */
  const horizons = new Map<string, { prunedThrough: number; maxVersion: number }>();
  /** Each tenant's subjects in order, made again only after a new subject: pages of a snapshot
   * walk forward from `after` instead of scanning and sorting every row per page (a snapshot of
   * 20,000 subjects in pages of 500, one process, old and new side by side: 539 ms of blocked event
   * loop before, 28 ms after). */
  const ordered = new Map<string, string[]>();
  const subjectsOf = (tenant: string): string[] => {
    let list = ordered.get(tenant);
    if (list === undefined) {
      list = [...(byTenant.get(tenant)?.keys() ?? [])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      ordered.set(tenant, list);
    }
    return list;
  };
  /** Rows of `tenant` whose subject is after `after`, in subject order, matching `pattern` and `topics`. */
  const rows = function* (tenant: string, pattern: string, topics: readonly string[], after: string | undefined) {
    const values = byTenant.get(tenant);
    if (values === undefined) return;
    const wanted = new Set(topics);
    const list = subjectsOf(tenant);
    // The first subject past `after` (binary search).
    let lo = 0;
    let hi = list.length;
    while (after !== undefined && lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid]! > after) hi = mid;
      else lo = mid + 1;
    }
    for (let i = lo; i < list.length; i++) {
      const row = values.get(list[i]!)!;
      if (wanted.has(row.value.topic) && matches(pattern, row.value.subject)) yield row;
    }
  };
  const remove = (tenant: string, row: MemoryRow, reason: LatestClearReason): LatestRemoval => {
    const version = row.value.version! + 1;
    row.value = { ...row.value, payload: undefined, headers: {}, version };
    row.cleared = reason;
    row.expiresAt = undefined;
    row.removedAt = now();
    row.removedThrough = undefined;
    return { tenant, topic: row.value.topic, subject: row.value.subject, version, reason };
  };
  return {
    async upsert(envelopes) {
      return envelopes.map((e) => {
        const tenant = tenantOf(e);
        let values = byTenant.get(tenant);
        if (!values) byTenant.set(tenant, (values = new Map()));
        const current = values.get(e.subject);
        if (current?.value.id === e.id) return undefined;
        if (current === undefined) ordered.delete(tenant); // a new subject: the order is made again
        const version = (current?.value.version ?? horizons.get(tenant)?.maxVersion ?? 0) + 1;
        const { seq: _seq, volatile: _v, ...value } = e;
        const ttl = ttlOf(e.topic);
        values.set(e.subject, { value: { ...value, context: {}, version }, expiresAt: ttl === undefined ? undefined : now() + ttl, cleared: undefined });
        return version;
      });
    },
    async page({ tenant, pattern, topics, after, limit }) {
      const at = now();
      const out: Envelope[] = [];
      for (const row of rows(tenant, pattern, topics, after)) {
        if (out.length >= limit) break;
        if (row.cleared === undefined && (row.expiresAt === undefined || row.expiresAt > at)) out.push(row.value);
      }
      return out.map((e) => ({ ...e }));
    },
    async tombstones({ tenant, pattern, topics, after, limit, since }) {
      const out: LatestCleared[] = [];
      for (const row of rows(tenant, pattern, topics, after)) {
        if (out.length >= limit) break;
        const due = since === undefined || row.removedThrough === undefined || row.removedThrough >= since;
        if (row.cleared !== undefined && due) out.push({ topic: row.value.topic, subject: row.value.subject, version: row.value.version!, reason: row.cleared });
      }
      return out;
    },
    async clear(tenant, topic, subject) {
      const row = byTenant.get(tenant)?.get(subject);
      if (row === undefined || row.cleared !== undefined || row.value.topic !== topic) return undefined;
      if (row.expiresAt !== undefined && row.expiresAt <= now()) return undefined; // the sweep's, as 'expired'
      return remove(tenant, row, 'cleared');
    },
    async sweep(limit) {
      const at = now();
      const out: LatestRemoval[] = [];
      for (const [tenant, values] of byTenant)
        for (const row of values.values()) {
          if (out.length >= limit) return out;
          if (row.cleared === undefined && row.expiresAt !== undefined && row.expiresAt <= at) out.push(remove(tenant, row, 'expired'));
        }
      return out;
    },
    async settle(settleMs, limit) {
      const due: MemoryRow[] = [];
      for (const values of byTenant.values())
        for (const row of values.values()) if (row.cleared !== undefined && row.removedThrough === undefined && row.removedAt! <= now() - settleMs) due.push(row);
      if (due.length === 0) return 0;
      // Read after the rows were chosen: the position is at least the log's when each settled.
      const at = await highWater();
      const settled = due.slice(0, limit).filter((row) => row.cleared !== undefined && row.removedThrough === undefined);
      for (const row of settled) row.removedThrough = at;
      return settled.length;
    },
    async prune(keepMs, limit) {
      let n = 0;
      const byTopic = new Map<string, number>();
      const before = now() - keepMs;
      for (const [tenant, values] of byTenant)
        for (const [subject, row] of values) {
          if (n >= limit) return byTopic;
          if (row.cleared === undefined || row.removedThrough === undefined || row.removedAt! > before) continue;
          values.delete(subject);
          ordered.delete(tenant);
          const h = horizons.get(tenant) ?? { prunedThrough: 0, maxVersion: 0 };
          horizons.set(tenant, { prunedThrough: Math.max(h.prunedThrough, row.removedThrough), maxVersion: Math.max(h.maxVersion, row.value.version!) });
          byTopic.set(row.value.topic, (byTopic.get(row.value.topic) ?? 0) + 1);
          n++;
        }
      return byTopic;
    },
    async prunedThrough(tenant) {
      return horizons.get(tenant)?.prunedThrough;
    },
  };
}
