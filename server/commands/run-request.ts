// Runs one command or query in this process.
//
// A command: claim its id in the ledger in its own short statement, before the handler runs (a
// recorded outcome is returned without running anything; an id another call is running is waited
// for, up to the handler's timeout). Then run the handler holding no store connection: its first
// `ctx.tx` query opens the transaction (lazy-transaction.ts, fete.transaction's, so the append, the
// commit hooks and the PGlite scope are the same as for `fete.transaction`). When it returns, the
// emits it made are appended and its result recorded in that transaction (opened then if it never
// was), only if the claim is still this call's. Emits are admitted by ingress when the handler
// calls `ctx.emit` (schema once, server headers stamped as the caller) and appended as they are.
// A deliberate rejection rolls the transaction back and records the rejection (one statement), so
// a duplicate waiting on the claim reads it instead of running the handler. Any other throw rolls
// back and releases the claim: nothing is recorded, a retry runs again. A process that crashes
// mid-handler leaves a 'running' row whose lease (the handler's timeout + LEASE_MARGIN_MS) expires;
// then a retry takes it over and runs the handler (nothing of the crashed run committed).
//
// A query: `SET TRANSACTION READ ONLY` first, no emit, no ledger.
import { checkHandlerSql } from '../store/handler-sql.js';
import { type AnyRequest, type Envelope, FeteError, Headers, type TopicCatalog, isFeteError, isUuid, validateRequestOutput } from '../../shared/index.js';
import type { EmitOptions, EmitResult, FeteTransaction } from '../types.js';
import type { Queryable } from '../store/driver.js';
import { commandActor } from './command-actor.js';
import { type Recorded, type ResultLedger, claimLostAtCommit, leaseLost } from './command-results.js';
import { LazyTransaction } from './lazy-transaction.js';
import { randomUUID } from 'node:crypto';
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
  /** The store, for the claim's own short statements (undefined without one). */
  readonly db: Queryable | undefined;
  /** The commands running in this process, by `tenant\0id`: a duplicate here waits on its end
   * rather than polling the store. */
  readonly running: Map<string, Promise<void>>;
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

/** How long past its handler's timeout a 'running' claim is kept before another call may take it
 * over (its process presumably crashed), in ms: room for the final commit. */
export const LEASE_MARGIN_MS = 10_000;

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

function sleep(ms: number): { done: Promise<void>; cancel: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const done = new Promise<void>((r) => (timer = setTimeout(r, ms)));
  return { done, cancel: () => clearTimeout(timer) };
}

/** Claims the id for `owner`, waiting while another call runs it (in this process: until it ends;
 * elsewhere: polling, 10 ms doubling to 250 ms) for at most `call.timeoutMs`, then TIMEOUT.
 * undefined when this call runs the handler, else the recorded outcome. */
async function claimOrWait(host: RunHost, call: RunCall, owner: string): Promise<Recorded | undefined> {
  const { decl, id, tenant } = call;
  const actor = commandActor(call.principal);
  const until = Date.now() + call.timeoutMs;
  for (let delay = 10; ; delay = Math.min(delay * 2, 250)) {
    const r = await host.ledger.claim(host.db, tenant, id, decl.name, actor, owner, call.timeoutMs + LEASE_MARGIN_MS);
    if (r === 'claimed') return undefined;
    if (r !== 'running') return r;
    const left = until - Date.now();
    if (left <= 0) throw new FeteError('TIMEOUT', `command id ${id} is still being run by an earlier call of it: retry later for its result`, { details: { id } });
    const here = host.running.get(`${tenant}\u0000${id}`);
    const nap = sleep(here ? left : Math.min(delay, left));
    await (here ? Promise.race([here, nap.done]) : nap.done);
    nap.cancel();
  }
}

export async function runCommand(host: RunHost, call: RunCall): Promise<RunResult> {
  const { decl, id, tenant } = call;
  if (!isUuid(id)) throw new FeteError('MALFORMED', `command id must be a UUID, got ${JSON.stringify(id)}`);
  const owner = randomUUID();
  const prior = await claimOrWait(host, call, owner);
  if (prior) {
    if (!prior.ok) throw prior.error;
    return { value: prior.value, duplicate: true };
  }
  const key = `${tenant}\u0000${id}`;
  let ended!: () => void;
  host.running.set(key, new Promise<void>((r) => (ended = r)));
  const q = host.hasStore ? host.db : undefined;
  const lazy = new LazyTransaction(host);
  try {
    const emits: Envelope[] = [];
    const emitOptions: EmitOptions[] = [];
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
          tx: {
            query: async <R>(sql: string, params?: readonly unknown[]) => {
              if (deadline.expired) throw deadline.expired;
              checkHandlerSql(sql);
              const { tx } = await lazy.open();
              return tx.query<R>(sql, params);
            },
          },
          reject: rejectFn(decl),
          emit: async (topic: unknown, payload: unknown, options: EmitOptions = {}): Promise<{ id: string }> => {
            if (deadline.expired) throw deadline.expired;
            // Admitted now (a bad payload throws where the handler made it), appended as is below.
            const headers = tenant === '' ? options.headers : { ...options.headers, [Headers.tenant]: tenant };
            const opts: EmitOptions = { ...options, ...(headers ? { headers } : {}) };
            const envelope = await host.admit(topic, payload, opts);
            if (deadline.expired) throw deadline.expired;
            emits.push(envelope);
            emitOptions.push(opts);
            return { id: envelope.id };
          },
        };
        return call.handler(call.input, ctx as never);
      });
      outcome = { ok: true, value: await validateRequestOutput(decl, value) };
    } catch (err) {
      await lazy.rollback(err);
      if (!isDeliberate(err)) throw err;
      outcome = { ok: false, error: err as FeteError };
      await host.ledger.finish(q, tenant, id, owner, outcome);
      throw err;
    }
    // The result record rides with COMMIT where the driver can (one round trip less).
    await lazy
      .commit(async ({ appendAdmitted, atCommit, tx }) => {
        if (emits.length > 0) await appendAdmitted(emits, emitOptions);
        await host.ledger.finish(host.hasStore ? tx : undefined, tenant, id, owner, outcome, atCommit);
      })
      .catch((err: unknown) => {
        throw claimLostAtCommit(err) ? leaseLost(id) : err;
      });
    return { value: outcome.value, duplicate: false };
  } catch (err) {
    if (!isDeliberate(err)) await host.ledger.release(q, tenant, id, owner).catch(() => undefined); // else its lease expires
    throw err;
  } finally {
    host.running.delete(key);
    ended();
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
        tx: { query: (sql, params) => (checkHandlerSql(sql), tx.query(sql, params)) },
        reject: rejectFn(decl),
      };
      return call.handler(call.input, ctx as never);
    });
    return validateRequestOutput(decl, value);
  });
}
