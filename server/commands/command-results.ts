// The recorded outcome of each command id, per tenant: the exactly-once ledger (007_commands.sql).
// `claim` runs first in the handler's transaction: it inserts the id as 'running', or (when the
// id exists) returns what was recorded. On PostgreSQL a concurrent duplicate's insert waits on the
// primary key until the first transaction ends, then sees its committed row (READ COMMITTED takes
// a new snapshot per statement), so a handler never runs twice for one id while its row exists.
// `finish` writes the outcome in the same transaction. Under `dispatch: 'inline'` a Map does it.
// Each row records who ran it (`actor`, 010_command_actor.sql): only that actor, in that tenant,
// reads the outcome back (`read`, a retry's `claim`); another one gets CONFLICT on a retry and
// nothing on a read, never the first caller's result.
import { FeteError, type FeteErrorCode, encodeValue, FeteErrorCode as Codes } from '../../shared/index.js';
import { decodeStoredValue } from '../../shared/codec.js';
import type { Queryable } from '../store/driver.js';
import { statement } from '../store/driver.js';
import type { Tables } from '../store/tables.js';
import { sqlLiteral } from '../store/sql-literal.js';

/** A recorded outcome: the handler's output, or the error it ended with on purpose. */
export type Recorded = { ok: true; value: unknown } | { ok: false; error: FeteError };

export interface RecordedError {
  code: FeteErrorCode;
  message: string;
  reason?: string;
}

export function errorRecord(err: FeteError): RecordedError {
  const reason = err.details?.reason;
  return typeof reason === 'string' ? { code: err.code, message: err.message, reason } : { code: err.code, message: err.message };
}

export function errorFromRecord(r: RecordedError): FeteError {
  const code = Object.hasOwn(Codes, r.code) ? r.code : 'INTERNAL';
  return new FeteError(code, r.message, r.reason === undefined ? {} : { details: { reason: r.reason } });
}

/** The id is taken by another command name: ids are per call, not per command. */
function conflict(id: string, name: string, other: string): FeteError {
  return new FeteError('CONFLICT', `command id ${id} was already used for "${other}", not "${name}"`, { details: { id } });
}

/** The id is taken by another caller: its outcome is that caller's, not told to this one. */
function otherCaller(id: string): FeteError {
  return new FeteError('CONFLICT', `command id ${id} was already used by another caller`, { details: { id } });
}

/** Who runs or reads a command: the principal's actor (context/principal.ts `actorOf`), or null. */
export type Actor = string | null;

export interface ResultLedger {
  /** Claims `id` for this call; undefined when the handler should run, else what was recorded.
   * CONFLICT when the id was used for another name or by another actor. */
  claim(q: Queryable | undefined, tenant: string, id: string, name: string, actor: Actor): Promise<Recorded | undefined>;
  /** Records the outcome of a claimed id (same transaction as the claim). With `atCommit` (the
   * transaction's `deferToCommit`, PostgreSQL) the statement rides with COMMIT instead. */
  finish(q: Queryable | undefined, tenant: string, id: string, outcome: Recorded, atCommit?: (sql: string) => void): Promise<void>;
  /** The recorded outcome of an id run by `actor` in `tenant`, if any (`commandResult`); undefined
   * for an id run by another actor, as for one never run. */
  read(q: Queryable | undefined, tenant: string, id: string, actor: Actor): Promise<(Recorded & { name: string }) | undefined>;
  /** Deletes outcomes past their window. Returns how many. */
  prune(q: Queryable | undefined): Promise<number>;
  /** Forgets a claim whose transaction rolled back (SQL: the rollback did it already). */
  release(tenant: string, id: string): void;
}

interface Row {
  name: string;
  actor: string | null;
  state: 'running' | 'ok' | 'error';
  result: string | null;
  error: RecordedError | string | null;
}

function recordedOf(row: Row): Recorded {
  if (row.state === 'ok') return { ok: true, value: row.result === null ? undefined : decodeStoredValue(row.result) };
  const e = typeof row.error === 'string' ? (JSON.parse(row.error) as RecordedError) : row.error;
  return { ok: false, error: errorFromRecord(e ?? { code: 'INTERNAL', message: 'unknown failure' }) };
}

/** The SQL ledger. Statement texts are built once per schema (prepared on PostgreSQL).
 *
 * `literals` (PostgreSQL): the claim and the result record are sent as statements with their
 * values inline (sqlLiteral), so that the claim rides with BEGIN and the record with COMMIT
 * (pg-driver.ts): a command that only claims and records is 2 round trips, not 4. Measured with
 * `npm run bench -- commands` (see the scenario's notes). Lost: the prepared plans of these two
 * statements (planning a one-row INSERT or UPDATE by primary key is a small part of a round trip). */
export function sqlLedger(tables: Tables, resultTtlMs: number, options: { literals?: boolean } = {}): ResultLedger {
  const table = `${tables.quotedSchema}.command_results`;
  const claimSql = statement(
    'cmd_claim',
    `INSERT INTO ${table} (tenant, id, name, state, expires_at, actor) VALUES ($1, $2, $3, 'running', now() + $4 * interval '1 millisecond', $5)
     ON CONFLICT (tenant, id) DO NOTHING RETURNING 1 AS claimed`,
  );
  const readSql = statement('cmd_read', `SELECT name, actor, state, result, error FROM ${table} WHERE tenant = $1 AND id = $2`);
  const finishSql = statement('cmd_finish', `UPDATE ${table} SET state = $3, result = $4, error = $5::jsonb WHERE tenant = $1 AND id = $2`);
  const pruneSql = `DELETE FROM ${table} WHERE expires_at < now()`;
  const read = async (q: Queryable, tenant: string, id: string) => (await q.query<Row>(readSql, [tenant, id])).rows[0];
  const inlineClaim = (tenant: string, id: string, name: string, actor: Actor) =>
    `INSERT INTO ${table} (tenant, id, name, state, expires_at, actor) VALUES (${sqlLiteral(tenant)}, ${sqlLiteral(id)}, ${sqlLiteral(name)}, 'running', now() + ${sqlLiteral(resultTtlMs)} * interval '1 millisecond', ${sqlLiteral(actor)})
     ON CONFLICT (tenant, id) DO NOTHING RETURNING 1 AS claimed`;
  const inlineFinish = (params: Array<string | null>) =>
    `UPDATE ${table} SET state = ${sqlLiteral(params[2]!)}, result = ${sqlLiteral(params[3]!)}, error = ${sqlLiteral(params[4]!)}::jsonb WHERE tenant = ${sqlLiteral(params[0]!)} AND id = ${sqlLiteral(params[1]!)}`;
  return {
    async claim(q, tenant, id, name, actor) {
      const res = options.literals ? await q!.query(inlineClaim(tenant, id, name, actor)) : await q!.query(claimSql, [tenant, id, name, resultTtlMs, actor]);
      if (res.rows.length > 0) return undefined;
      const row = await read(q!, tenant, id);
      // Gone between the two statements: pruned right now. Claim again rather than guess.
      if (!row) return this.claim(q, tenant, id, name, actor);
      if (row.actor !== actor) throw otherCaller(id);
      if (row.name !== name) throw conflict(id, name, row.name);
      // A committed 'running' row cannot exist: the claim and the outcome commit together.
      return recordedOf(row);
    },
    async finish(q, tenant, id, outcome, atCommit) {
      const params = outcome.ok
        ? [tenant, id, 'ok', encodeValue(outcome.value), null]
        : [tenant, id, 'error', null, JSON.stringify(errorRecord(outcome.error))];
      if (options.literals && atCommit) atCommit(inlineFinish(params));
      else await q!.query(finishSql, params);
    },
    async read(q, tenant, id, actor) {
      const row = await read(q!, tenant, id);
      return row && row.state !== 'running' && row.actor === actor ? { ...recordedOf(row), name: row.name } : undefined;
    },
    async prune(q) {
      return (await q!.query(pruneSql)).rowCount;
    },
    release() {},
  };
}

/** The in-memory ledger for `dispatch: 'inline'` (no store): same contract, one process. A claim
 * of an id still running waits for its outcome. */
export function memoryLedger(resultTtlMs: number, now: () => number = Date.now): ResultLedger {
  interface Entry {
    name: string;
    actor: Actor;
    expires: number;
    outcome: Recorded | undefined;
    done: Promise<void>;
    settle: () => void;
  }
  const entries = new Map<string, Entry>();
  const key = (tenant: string, id: string) => `${tenant}\u0000${id}`;
  return {
    async claim(_q, tenant, id, name, actor) {
      for (;;) {
        const e = entries.get(key(tenant, id));
        if (!e) break;
        if (e.actor !== actor) throw otherCaller(id);
        if (e.name !== name) throw conflict(id, name, e.name);
        if (e.outcome) return e.outcome;
        await e.done;
      }
      let settle!: () => void;
      const done = new Promise<void>((r) => (settle = r));
      entries.set(key(tenant, id), { name, actor, expires: now() + resultTtlMs, outcome: undefined, done, settle });
      return undefined;
    },
    async finish(_q, tenant, id, outcome) {
      const e = entries.get(key(tenant, id));
      if (!e) return;
      e.outcome = outcome;
      e.settle();
    },
    async read(_q, tenant, id, actor) {
      const e = entries.get(key(tenant, id));
      return e?.outcome && e.actor === actor ? { ...e.outcome, name: e.name } : undefined;
    },
    async prune() {
      let n = 0;
      const t = now();
      for (const [k, e] of entries) if (e.outcome && e.expires < t && entries.delete(k)) n++;
      return n;
    },
    release(tenant, id) {
      const e = entries.get(key(tenant, id));
      if (!e || e.outcome) return;
      entries.delete(key(tenant, id));
      e.settle();
    },
  };
}
