// The recorded outcome of each command id, per tenant: the exactly-once ledger (007_commands.sql,
// 011_command_claims.sql). `claim` is its own short statement before the handler runs: it inserts
// the id as 'running' with the call's owner token and a lease, takes over a 'running' row whose
// lease expired (a crashed process), or returns what was recorded ('running' while another call
// holds it: the caller waits). `finish` writes the outcome in the transaction of the handler's
// writes and emits, only if the claim is still the owner's; `release` gives it up after a
// surprise failure. Under `dispatch: 'inline'` a Map does it.
// Each row records who ran it (`actor`, 010_command_actor.sql): only that actor, in that tenant,
// reads the outcome back (`read`, a retry's `claim`); another one gets CONFLICT on a retry and
// nothing on a read, never the first caller's result.
import { FeteError, type FeteErrorCode, encodeValue, FeteErrorCode as Codes } from '../../shared/index.js';
import { decodeStoredValue } from '../../shared/codec.js';
import { storableText } from '../../shared/describe-thrown.js';
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

/** The record of a deliberate error, for the ledger's and the forwarder's jsonb columns: the
 * message may quote the caller's input, so a NUL or lone surrogate in it (which jsonb refuses,
 * failing the whole command INTERNAL) is replaced (describe-thrown.ts `storableText`). */
export function errorRecord(err: FeteError): RecordedError {
  const reason = err.details?.reason;
  const message = storableText(err.message);
  return typeof reason === 'string' ? { code: err.code, message, reason: storableText(reason) } : { code: err.code, message };
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

/** Who runs or reads a command: `commandActor(principal)` (command-actor.ts), null for none. */
export type Actor = string | null;

/** What a claim came to: 'claimed' (this call runs the handler), 'running' (another call holds
 * the id and its lease has not expired: wait and claim again), or the recorded outcome. */
export type ClaimResult = 'claimed' | 'running' | Recorded;

export interface ResultLedger {
  /** Claims `id` for the call whose token is `owner`, in its own short statement (autocommit:
   * `q` is the store, not a transaction), with a lease of `leaseMs`: a 'running' row whose lease
   * expired (its process crashed mid-handler) is taken over. CONFLICT when the id was used for
   * another name or by another actor. */
  claim(q: Queryable | undefined, tenant: string, id: string, name: string, actor: Actor, owner: string, leaseMs: number): Promise<ClaimResult>;
  /** Records the outcome of an id this owner claimed, in `q` (the transaction of the handler's
   * writes and emits, or the store for a rejection). With `atCommit` (the transaction's
   * `deferToCommit`, PostgreSQL) the statement rides with COMMIT, and fails the commit if the
   * claim is no longer ours; otherwise LEASE_LOST is thrown (the transaction then rolls back). */
  finish(q: Queryable | undefined, tenant: string, id: string, owner: string, outcome: Recorded, atCommit?: (sql: string) => void): Promise<void>;
  /** The recorded outcome of an id run by `actor` in `tenant`, if any (`commandResult`); undefined
   * for an id run by another actor, as for one never run or still running. */
  read(q: Queryable | undefined, tenant: string, id: string, actor: Actor): Promise<(Recorded & { name: string }) | undefined>;
  /** Deletes outcomes past their window. Returns how many. */
  prune(q: Queryable | undefined): Promise<number>;
  /** Gives up this owner's claim of an id whose handler failed by surprise: nothing is recorded, a
   * retry runs it again. A no-op when the claim is no longer ours. */
  release(q: Queryable | undefined, tenant: string, id: string, owner: string): Promise<void>;
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

/** Whether `err` (or a cause of it) is the failed commit of a `finish` whose claim was lost:
 * SQLSTATE 22012, the division by zero of the record that updated no row (`literals`). */
export function claimLostAtCommit(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++)
    if ((e as { code?: unknown }).code === '22012') return true;
  return false;
}

export function leaseLost(id: string): FeteError {
  return new FeteError('LEASE_LOST', `command id ${id}: its claim expired and another call took it over; its outcome is that call's`, { details: { id } });
}

/** The SQL ledger. Statement texts are built once per schema (prepared on PostgreSQL).
 *
 * `literals` (PostgreSQL): the result record is sent with its values inline (sqlLiteral), so that
 * it rides with COMMIT (pg-driver.ts): a command that only claims and records is 2 round trips
 * (the claim, then BEGIN + record + COMMIT), as measured with `npm run bench -- commands` before
 * the claim moved out of the transaction. There the record checks the claim is still ours by
 * failing the commit (a division by zero when it updated no row). */
export function sqlLedger(tables: Tables, resultTtlMs: number, options: { literals?: boolean } = {}): ResultLedger {
  const table = `${tables.quotedSchema}.command_results`;
  const claimSql = statement(
    'cmd_claim2',
    `INSERT INTO ${table} AS c (tenant, id, name, state, expires_at, actor, owner, lease_until)
     VALUES ($1, $2, $3, 'running', now() + $4 * interval '1 millisecond', $5, $6, now() + $7 * interval '1 millisecond')
     ON CONFLICT (tenant, id) DO UPDATE SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until, expires_at = EXCLUDED.expires_at
     WHERE c.state = 'running' AND c.lease_until < now() AND c.name = EXCLUDED.name AND c.actor IS NOT DISTINCT FROM EXCLUDED.actor
     RETURNING 1 AS claimed`,
  );
  const readSql = statement('cmd_read2', `SELECT name, actor, state, result, error FROM ${table} WHERE tenant = $1 AND id = $2`);
  const finishSql = statement(
    'cmd_finish2',
    `UPDATE ${table} SET state = $4, result = $5, error = $6::jsonb, owner = NULL, lease_until = NULL WHERE tenant = $1 AND id = $2 AND owner = $3 AND state = 'running'`,
  );
  const releaseSql = statement('cmd_release', `DELETE FROM ${table} WHERE tenant = $1 AND id = $2 AND owner = $3 AND state = 'running'`);
  const pruneSql = `DELETE FROM ${table} WHERE expires_at < now() AND (state <> 'running' OR lease_until < now())`;
  const read = async (q: Queryable, tenant: string, id: string) => (await q.query<Row>(readSql, [tenant, id])).rows[0];
  const inlineFinish = (p: Array<string | null>) =>
    `WITH u AS (UPDATE ${table} SET state = ${sqlLiteral(p[3]!)}, result = ${sqlLiteral(p[4]!)}, error = ${sqlLiteral(p[5]!)}::jsonb, owner = NULL, lease_until = NULL
     WHERE tenant = ${sqlLiteral(p[0]!)} AND id = ${sqlLiteral(p[1]!)} AND owner = ${sqlLiteral(p[2]!)} AND state = 'running' RETURNING 1)
     SELECT 1 / count(*) AS fete_command_claim_still_ours FROM u`;
  return {
    async claim(q, tenant, id, name, actor, owner, leaseMs) {
      const res = await q!.query(claimSql, [tenant, id, name, resultTtlMs, actor, owner, leaseMs]);
      if (res.rows.length > 0) return 'claimed';
      const row = await read(q!, tenant, id);
      // Gone between the two statements: pruned or released right now. Claim again rather than guess.
      if (!row) return this.claim(q, tenant, id, name, actor, owner, leaseMs);
      if (row.actor !== actor) throw otherCaller(id);
      if (row.name !== name) throw conflict(id, name, row.name);
      return row.state === 'running' ? 'running' : recordedOf(row);
    },
    async finish(q, tenant, id, owner, outcome, atCommit) {
      const params = outcome.ok
        ? [tenant, id, owner, 'ok', encodeValue(outcome.value), null]
        : [tenant, id, owner, 'error', null, JSON.stringify(errorRecord(outcome.error))];
      if (options.literals && atCommit) atCommit(inlineFinish(params));
      else if ((await q!.query(finishSql, params)).rowCount === 0) throw leaseLost(id);
    },
    async read(q, tenant, id, actor) {
      const row = await read(q!, tenant, id);
      return row && row.state !== 'running' && row.actor === actor ? { ...recordedOf(row), name: row.name } : undefined;
    },
    async prune(q) {
      return (await q!.query(pruneSql)).rowCount;
    },
    async release(q, tenant, id, owner) {
      await q!.query(releaseSql, [tenant, id, owner]);
    },
  };
}

/** The in-memory ledger for `dispatch: 'inline'` (no store): same contract, one process (no
 * crash to outlive, so no lease). */
export function memoryLedger(resultTtlMs: number, now: () => number = Date.now): ResultLedger {
  interface Entry {
    name: string;
    actor: Actor;
    owner: string;
    expires: number;
    outcome: Recorded | undefined;
  }
  const entries = new Map<string, Entry>();
  const key = (tenant: string, id: string) => `${tenant}\u0000${id}`;
  return {
    async claim(_q, tenant, id, name, actor, owner) {
      const e = entries.get(key(tenant, id));
      if (e) {
        if (e.actor !== actor) throw otherCaller(id);
        if (e.name !== name) throw conflict(id, name, e.name);
        return e.outcome ?? 'running';
      }
      entries.set(key(tenant, id), { name, actor, owner, expires: now() + resultTtlMs, outcome: undefined });
      return 'claimed';
    },
    async finish(_q, tenant, id, owner, outcome) {
      const e = entries.get(key(tenant, id));
      if (!e || e.owner !== owner || e.outcome) throw leaseLost(id);
      e.outcome = outcome;
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
    async release(_q, tenant, id, owner) {
      const e = entries.get(key(tenant, id));
      if (e && !e.outcome && e.owner === owner) entries.delete(key(tenant, id));
    },
  };
}
