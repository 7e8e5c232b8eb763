// Runs one command or query in this process, in one store transaction (fete.transaction's, so the
// append, the commit hooks and the PGlite scope are the same as for `fete.transaction`).
//
// A command: claim its id in the ledger (a recorded outcome is returned without running anything),
// run the handler, then append the emits it made and record its result, all in that transaction.
// Emits are admitted by ingress when the handler calls `ctx.emit` (schema once, server headers
// stamped as the caller) and the admitted envelopes appended as they are after it returns, so a
// rejection has nothing of them to undo and no payload is validated twice. Its SQL is undone by a savepoint taken lazily before the
// handler's first `ctx.tx` query (a no-op command pays no extra round trip): a deliberate
// rejection rolls back to it and records the rejection in the same transaction as the claim, so a
// concurrent duplicate waiting on the claim reads that rejection instead of running the handler.
// Any other throw rolls back everything, claim included: nothing is recorded, a retry runs again.
//
// A query: `SET TRANSACTION READ ONLY` first, no emit, no ledger.
import { type AnyRequest, type Envelope, FeteError, Headers, type TopicCatalog, isFeteError, isUuid, validateRequestOutput } from '../../shared/index.js';
import { actorOf } from '../context/principal.js';
import type { EmitOptions, EmitResult, FeteTransaction, TxQuery } from '../types.js';
import type { Recorded, ResultLedger } from './command-results.js';
import type { CommandContext, RequestContext } from './types.js';

/** What running a request needs of the fete it belongs to. */
export interface RunHost {
  readonly topics: TopicCatalog;
  /** `fete.transaction`, with the append of envelopes `admit` made. */
  transaction<R>(fn: (tx: FeteTransaction<TopicCatalog>, appendAdmitted: AppendAdmitted, atCommit: AtCommit | undefined) => Promise<R>): Promise<R>;
  /** Server ingress (ingress/admit-server.ts): the envelope of one emit, its schema run once. */
  admit(topic: unknown, payload: unknown, options?: EmitOptions): Promise<Envelope>;
  /** False under `dispatch: 'inline'`: no SQL, the memory ledger. */
  readonly hasStore: boolean;
  readonly ledger: ResultLedger;
}

/** The open transaction's `deferToCommit` (PostgreSQL): a statement sent with COMMIT. */
export type AtCommit = (sql: string) => void;

/** Appends envelopes ingress admitted, in the open transaction, without admitting them again. */
export type AppendAdmitted = (envelopes: Envelope[], options?: ReadonlyArray<EmitOptions | undefined>) => Promise<EmitResult[]>;

export interface RunCall {
  decl: AnyRequest;
  handler: (input: unknown, ctx: never) => unknown;
  /** The validated input (the handler's input type). */
  input: unknown;
  id: string;
  principal: unknown;
  tenant: string;
  timeoutMs: number;
}

/** What a command call came to: the value (a result or a recorded one), and whether it was recorded
 * before this call (`duplicate`). Deliberate failures are thrown, recorded or not. */
export interface RunResult {
  value: unknown;
  duplicate: boolean;
}

const SAVEPOINT = 'fete_command';

/** Errors a handler throws on purpose: they are the request's answer, recorded for the command id.
 * Anything else (INTERNAL, the store failing, a timeout, CLOSED) rolls back and is not recorded. */
const DELIBERATE = new Set(['REJECTED', 'INVALID_PAYLOAD', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'UNAUTHORIZED', 'MALFORMED', 'TOO_LARGE', 'UNKNOWN_TOPIC']);

export function isDeliberate(err: unknown): boolean {
  return isFeteError(err) && DELIBERATE.has(err.code);
}

function rejectFn(decl: AnyRequest) {
  return (reason: string, message?: string): never => {
    if (!decl.reasons.includes(reason))
      // A bug in the handler, not an answer: rolled back and reported INTERNAL, like any throw.
      throw new FeteError('INTERNAL', `${decl.kind} "${decl.name}" rejected with the undeclared reason ${JSON.stringify(reason)}`);
    throw new FeteError('REJECTED', message ?? reason, { details: { reason } });
  };
}

/** A handler's deadline. Its AbortSignal is made only when the handler reads `ctx.signal` (most
 * never do; making one per call showed in the commands bench's CPU profile). */
class Deadline {
  #ac: AbortController | undefined;
  #reason: FeteError | undefined;

  get signal(): AbortSignal {
    if (!this.#ac) {
      this.#ac = new AbortController();
      if (this.#reason) this.#ac.abort(this.#reason);
    }
    return this.#ac.signal;
  }

  /** The TIMEOUT error once the deadline passed. */
  get expired(): FeteError | undefined {
    return this.#reason;
  }

  expire(err: FeteError): void {
    this.#reason = err;
    this.#ac?.abort(err);
  }
}

/** Runs `fn` with a Deadline that expires after `timeoutMs`; settles TIMEOUT then, without
 * waiting for `fn` (the transaction around it rolls back, so its later writes fail CLOSED). */
async function withDeadline<T>(decl: AnyRequest, timeoutMs: number, fn: (d: Deadline) => T | Promise<T>): Promise<T> {
  const d = new Deadline();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new FeteError('TIMEOUT', `${decl.kind} "${decl.name}" took longer than ${timeoutMs} ms`);
      d.expire(err);
      reject(err);
    }, timeoutMs);
  });
  try {
    const work = Promise.resolve().then(() => fn(d));
    work.catch(() => undefined); // its failure after the deadline has nobody to tell
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** `ctx.tx` of a command: the transaction's queries, after a savepoint taken on first use. */
function savepointTx(tx: TxQuery, state: { savepoint?: Promise<unknown> }): TxQuery {
  return {
    query: <R>(sql: string, params?: readonly unknown[]) => {
      state.savepoint ??= tx.query(`SAVEPOINT ${SAVEPOINT}`);
      return state.savepoint.then(() => tx.query<R>(sql, params));
    },
  };
}

export async function runCommand(host: RunHost, call: RunCall): Promise<RunResult> {
  const { decl, id, tenant } = call;
  if (!isUuid(id)) throw new FeteError('MALFORMED', `command id must be a UUID, got ${JSON.stringify(id)}`);
  let claimed = false;
  try {
    const result = await host.transaction(async (tx, appendAdmitted, atCommit): Promise<{ recorded: Recorded; duplicate: boolean }> => {
      const q = host.hasStore ? tx : undefined;
      const prior = await host.ledger.claim(q, tenant, id, decl.name, actorOf(call.principal) ?? null);
      if (prior) return { recorded: prior, duplicate: true };
      claimed = true;
      const emits: Envelope[] = [];
      const emitOptions: EmitOptions[] = [];
      const state: { savepoint?: Promise<unknown> } = {};
      let outcome: Recorded;
      try {
        const value = await withDeadline(decl, call.timeoutMs, (deadline) => {
          const ctx: CommandContext<TopicCatalog> = {
            id,
            principal: call.principal,
            tenant,
            get signal() {
              return deadline.signal;
            },
            tx: savepointTx(tx, state),
            reject: rejectFn(decl),
            emit: async (topic: unknown, payload: unknown, options: EmitOptions = {}): Promise<EmitResult> => {
              if (deadline.expired) throw deadline.expired;
              // Admitted now (a bad payload throws where the handler made it), appended as is below.
              const headers = tenant === '' ? options.headers : { ...options.headers, [Headers.tenant]: tenant };
              const opts: EmitOptions = { ...options, ...(headers ? { headers } : {}) };
              const envelope = await host.admit(topic, payload, opts);
              if (deadline.expired) throw deadline.expired;
              emits.push(envelope);
              emitOptions.push(opts);
              return { id: envelope.id, seq: 0, duplicate: false };
            },
          };
          return call.handler(call.input, ctx as never);
        });
        outcome = { ok: true, value: await validateRequestOutput(decl, value) };
      } catch (err) {
        if (!isDeliberate(err)) throw err;
        if (state.savepoint) {
          await state.savepoint;
          await tx.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
        }
        outcome = { ok: false, error: err as FeteError };
        await host.ledger.finish(q, tenant, id, outcome, atCommit);
        return { recorded: outcome, duplicate: false };
      }
      if (emits.length > 0) await appendAdmitted(emits, emitOptions);
      // The result record rides with COMMIT where the driver can (one round trip less).
      await host.ledger.finish(q, tenant, id, outcome, atCommit);
      return { recorded: outcome, duplicate: false };
    });
    if (!result.recorded.ok) throw result.recorded.error;
    return { value: result.recorded.value, duplicate: result.duplicate };
  } catch (err) {
    if (claimed) host.ledger.release(tenant, id);
    throw err;
  }
}

export async function runQuery(host: RunHost, call: RunCall): Promise<unknown> {
  const { decl } = call;
  return host.transaction(async (tx) => {
    if (host.hasStore) await tx.query('SET TRANSACTION READ ONLY');
    const value = await withDeadline(decl, call.timeoutMs, (deadline) => {
      const ctx: RequestContext = {
        id: call.id,
        principal: call.principal,
        tenant: call.tenant,
        get signal() {
          return deadline.signal;
        },
        tx: { query: (sql, params) => tx.query(sql, params) },
        reject: rejectFn(decl),
      };
      return call.handler(call.input, ctx as never);
    });
    return validateRequestOutput(decl, value);
  });
}
