// Where presence rows live: the store's `presence` and `presence_nodes` tables (009_presence.sql),
// the same SQL on PGlite and PostgreSQL, or a Map for `dispatch: 'inline'` (one process, no store).
// One operation per function; the tables are explained in the migration.
import type { Queryable } from '../store/driver.js';
import { patternToRegex } from '../store/pattern-regex.js';
import type { Tables } from '../store/tables.js';
import { isLiteralPattern, matches } from '../../shared/index.js';

/** One node's row for one member on one subject. `state` is JSON text. */
export interface PresenceRow {
  tenant: string;
  subject: string;
  member: string;
  node: string;
  connections: number;
  state: string | undefined;
  version: number;
  /** When the state was set (ms since the epoch, the writing node's clock). */
  updatedAt: number;
}

/** A row to delete: the node's row of (tenant, subject, member). */
export type PresenceKey = Pick<PresenceRow, 'tenant' | 'subject' | 'member'>;

export interface PresenceStore {
  /** Records the node as alive for `ttlMs`. False if its row was gone (swept: it must re-register). */
  heartbeat(node: string, ttlMs: number, create: boolean): Promise<boolean>;
  /** Writes the node's rows: upserts (newer versions only) and deletes. */
  write(node: string, upserts: readonly PresenceRow[], deletes: readonly PresenceKey[]): Promise<void>;
  /** Rows of live nodes for `tenant` whose subject matches `pattern`. */
  read(tenant: string, pattern: string): Promise<PresenceRow[]>;
  /** Deletes expired nodes and their rows, or with `onlyNode` every node but that one (an engine
   * only one process can open: other nodes are a previous run's); returns the rows deleted (to
   * announce the leaves). */
  sweep(onlyNode?: string): Promise<PresenceRow[]>;
  /** Deletes the node and its rows (a graceful stop); returns the rows deleted. */
  removeNode(node: string): Promise<PresenceRow[]>;
}

interface DbRow {
  tenant: string;
  subject: string;
  member: string;
  node: string;
  connections: number;
  state: string | null;
  version: string | number;
  updated_at: Date | string;
}

function fromDb(r: DbRow): PresenceRow {
  return {
    tenant: r.tenant,
    subject: r.subject,
    member: r.member,
    node: r.node,
    connections: Number(r.connections),
    state: r.state ?? undefined,
    version: Number(r.version),
    updatedAt: new Date(r.updated_at).getTime(),
  };
}

const COLUMNS = 'tenant, subject, member, node, connections, state, version, updated_at';

export function sqlPresenceStore(q: Queryable, t: Tables): PresenceStore {
  const presence = `${t.quotedSchema}.presence`;
  const nodes = `${t.quotedSchema}.presence_nodes`;
  return {
    async heartbeat(node, ttlMs, create) {
      const expires = `now() + $2::int * interval '1 millisecond'`;
      if (create) {
        await q.query(`INSERT INTO ${nodes} (node, expires_at) VALUES ($1, ${expires}) ON CONFLICT (node) DO UPDATE SET expires_at = EXCLUDED.expires_at`, [node, ttlMs]);
        return true;
      }
      const res = await q.query(`UPDATE ${nodes} SET expires_at = ${expires} WHERE node = $1`, [node, ttlMs]);
      return res.rowCount > 0;
    },
    async write(node, upserts, deletes) {
      if (deletes.length > 0)
        await q.query(
          `DELETE FROM ${presence} p USING unnest($1::text[], $2::text[], $3::text[]) AS d(tenant, subject, member)
           WHERE p.node = $4 AND p.tenant = d.tenant AND p.subject = d.subject AND p.member = d.member`,
          [deletes.map((d) => d.tenant), deletes.map((d) => d.subject), deletes.map((d) => d.member), node],
        );
      if (upserts.length > 0)
        await q.query(
          `INSERT INTO ${presence} (${COLUMNS})
           SELECT d.tenant, d.subject, d.member, $8, d.connections, d.state, d.version, to_timestamp(d.updated_ms / 1000.0)
           FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::bigint[], $7::float8[]) AS d(tenant, subject, member, connections, state, version, updated_ms)
           ON CONFLICT (tenant, subject, member, node) DO UPDATE SET connections = EXCLUDED.connections, state = EXCLUDED.state,
             version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
           WHERE ${presence}.version < EXCLUDED.version`,
          [
            upserts.map((r) => r.tenant),
            upserts.map((r) => r.subject),
            upserts.map((r) => r.member),
            upserts.map((r) => r.connections),
            upserts.map((r) => r.state ?? null),
            upserts.map((r) => r.version),
            upserts.map((r) => r.updatedAt),
            node,
          ],
        );
    },
    async read(tenant, pattern) {
      // A literal pattern is one subject: an equality on the primary key's prefix.
      const literal = isLiteralPattern(pattern);
      const res = await q.query<DbRow>(
        `SELECT p.tenant, p.subject, p.member, p.node, p.connections, p.state, p.version, p.updated_at
         FROM ${presence} p JOIN ${nodes} n ON n.node = p.node
         WHERE p.tenant = $1 AND ${literal ? 'p.subject = $2' : 'p.subject ~ $2'} AND n.expires_at > now()`,
        [tenant, literal ? pattern : patternToRegex(pattern)],
      );
      return res.rows.map(fromDb);
    },
    async sweep(onlyNode) {
      // DELETE ... RETURNING in one statement: of several nodes sweeping at once, exactly one gets
      // (and announces) each row.
      const res = await q.query<DbRow>(
        `WITH dead AS (DELETE FROM ${nodes} WHERE ${onlyNode === undefined ? 'expires_at < now()' : 'node <> $1'} RETURNING node)
         DELETE FROM ${presence} p USING dead WHERE p.node = dead.node
         RETURNING p.tenant, p.subject, p.member, p.node, p.connections, p.state, p.version, p.updated_at`,
        onlyNode === undefined ? [] : [onlyNode],
      );
      return res.rows.map(fromDb);
    },
    async removeNode(node) {
      const res = await q.query<DbRow>(
        `WITH gone AS (DELETE FROM ${nodes} WHERE node = $1)
         DELETE FROM ${presence} p WHERE p.node = $1
         RETURNING p.tenant, p.subject, p.member, p.node, p.connections, p.state, p.version, p.updated_at`,
        [node],
      );
      return res.rows.map(fromDb);
    },
  };
}

/** Presence of one process without a store (`dispatch: 'inline'`): nothing to share or expire. */
export function memoryPresenceStore(): PresenceStore {
  const rows = new Map<string, PresenceRow>();
  const key = (node: string, k: PresenceKey) => `${k.tenant}\n${k.subject}\n${k.member}\n${node}`;
  return {
    heartbeat: () => Promise.resolve(true),
    write(node, upserts, deletes) {
      for (const d of deletes) rows.delete(key(node, d));
      for (const r of upserts) rows.set(key(node, r), { ...r, node });
      return Promise.resolve();
    },
    read(tenant, pattern) {
      return Promise.resolve([...rows.values()].filter((r) => r.tenant === tenant && matches(pattern, r.subject)));
    },
    sweep: () => Promise.resolve([]),
    removeNode(node) {
      const gone = [...rows.values()].filter((r) => r.node === node);
      for (const r of gone) rows.delete(key(node, r));
      return Promise.resolve(gone);
    },
  };
}
