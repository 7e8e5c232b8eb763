// Where `delivery: 'latest'` topics keep their values: one row per (tenant, subject), upserted
// instead of appended (server/sql/008_latest.sql), or a map under `dispatch: 'inline'`. Each
// upsert gives the subject's next version (1, 2, ...), computed under the row lock, so versions of
// one subject grow in commit order. Reads serve new subscriptions: the current values of one
// tenant whose subjects match a pattern, in subject order, a page at a time.
import { type Envelope, matches } from '../../shared/index.js';
import { decodeStoredValue, payloadTextOf } from '../../shared/codec.js';
import type { Driver, Queryable } from '../store/driver.js';
import { statement } from '../store/driver.js';
import { patternToRegex } from '../store/pattern-regex.js';
import { storedHeaders, storedTime } from '../store/event-queries.js';
import type { Tables } from '../store/tables.js';
import { tenantOf } from '../security/tenant.js';

export interface LatestPageQuery {
  tenant: string;
  pattern: string;
  /** Only values of these topics (the exposed `latest` topics the pattern can match). */
  topics: readonly string[];
  /** Subjects after this one (keyset paging); undefined for the first page. */
  after?: string | undefined;
  limit: number;
}

export interface LatestStore {
  /** Stores each envelope as its subject's current value (in its tenant); returns the versions,
   * in order, or undefined for an envelope whose id is already the subject's current value (a
   * resend after a lost ack: nothing changes, the emit is a duplicate). In `q` (a transaction)
   * when given. */
  upsert(envelopes: readonly Envelope[], q?: Queryable): Promise<Array<number | undefined>>;
  /** Current values (envelopes with `version`, without seq or context), in subject order. */
  page(query: LatestPageQuery): Promise<Envelope[]>;
}

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
export function storeLatest(driver: Driver, tables: Tables): LatestStore {
  const table = `${tables.quotedSchema}.latest`;
  const upsert = statement(
    'latest_upsert',
    `INSERT INTO ${table} AS l (tenant, subject, topic, id, version, time, headers, payload)
     VALUES ($1, $2, $3, $4, 1, $5, $6::jsonb, $7)
     ON CONFLICT (tenant, subject) DO UPDATE SET topic = EXCLUDED.topic, id = EXCLUDED.id, version = l.version + 1,
       time = EXCLUDED.time, headers = EXCLUDED.headers, payload = EXCLUDED.payload, updated_at = now()
     WHERE l.id <> EXCLUDED.id
     RETURNING l.version`,
  );
  const page = statement(
    'latest_page',
    `SELECT subject, topic, id, version, time, headers, payload FROM ${table}
     WHERE tenant = $1 AND topic = ANY($2::text[]) AND subject ~ $3 AND ($4::text IS NULL OR subject > $4)
     ORDER BY subject LIMIT $5`,
  );
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

/** `dispatch: 'inline'`: the values in memory (gone with the process, like the in-memory log). */
export function memoryLatest(): LatestStore {
  const byTenant = new Map<string, Map<string, Envelope>>();
  return {
    async upsert(envelopes) {
      return envelopes.map((e) => {
        const tenant = tenantOf(e);
        let values = byTenant.get(tenant);
        if (!values) byTenant.set(tenant, (values = new Map()));
        const current = values.get(e.subject);
        if (current?.id === e.id) return undefined;
        const version = (current?.version ?? 0) + 1;
        const { seq: _seq, volatile: _v, ...value } = e;
        values.set(e.subject, { ...value, context: {}, version });
        return version;
      });
    },
    async page({ tenant, pattern, topics, after, limit }) {
      const values = byTenant.get(tenant);
      if (!values) return [];
      const wanted = new Set(topics);
      const out: Envelope[] = [];
      for (const e of values.values())
        if (wanted.has(e.topic) && matches(pattern, e.subject) && (after === undefined || e.subject > after)) out.push(e);
      out.sort((a, b) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0));
      return out.slice(0, limit).map((e) => ({ ...e }));
    },
  };
}
