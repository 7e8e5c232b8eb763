// Forwarding through the store (007_commands.sql `command_requests`): a process that receives a
// command whose owner runs only in a role it does not run inserts a request row and NOTIFYs
// `<channel>_cmd`; processes that run the owner LISTEN there (and poll, for lost notifications),
// claim pending rows of the names they own with SKIP LOCKED, execute them through the same
// exactly-once path as any call, write the reply into the row and NOTIFY `<channel>_cmdr` with
// its rid. The origin reads the reply and deletes the row. If no process takes the request within
// `forwardTimeoutMs`, the origin deletes it (only while still pending, so a late taker cannot run
// it after the caller was told) and fails NO_HANDLER. A taker that dies mid-run leaves its row
// 'running': the origin fails TIMEOUT after the handler's deadline; a retry with the same command
// id is safe (the ledger records the first outcome, or nothing if it rolled back).
import createDebug from 'debug';
import { FeteError, decodeValue, encodeValue, isFeteError } from '../../shared/index.js';
import { decodeStoredValue } from '../../shared/codec.js';
import type { Store } from '../store/open-store.js';
import { type RecordedError, errorFromRecord, errorRecord } from './command-results.js';
import type { Call, Registration } from './command-bus.js';
import type { ResolvedCommandOptions } from './types.js';
import type { Role } from '../options.js';

const debug = createDebug('fete:commands');

/** Requests claimed by one query. */
const CLAIM_BATCH = 16;

type Reply = { ok: true; result: string } | { ok: false; error: RecordedError };

export interface ForwarderHost {
  readonly roles: readonly Role[];
  /** Names of the owners that run in this process. */
  names(): string[];
  /** Runs a forwarded call here, its input admitted already (ledger, metrics: the bus's one path). */
  serve(call: Call): Promise<unknown>;
}

interface Waiter {
  resolve(reply: Reply): void;
}

export class Forwarder {
  readonly #store: Store;
  readonly #o: ResolvedCommandOptions;
  readonly #host: ForwarderHost;
  readonly #table: string;
  readonly #requestChannel: string;
  readonly #replyChannel: string;
  readonly #waiters = new Map<string, Waiter>();
  #replyListen: Promise<(() => Promise<void>) | undefined> | undefined;
  #requestUnlisten: (() => Promise<void>) | undefined;
  #requestListen: Promise<void> | undefined;
  #pollTimer: ReturnType<typeof setInterval> | undefined;
  #serving = false;
  #draining: Promise<void> | undefined;
  #again = false;
  #inflight = new Set<Promise<void>>();
  #stopped = false;

  constructor(store: Store, options: ResolvedCommandOptions, host: ForwarderHost) {
    this.#store = store;
    this.#o = options;
    this.#host = host;
    this.#table = `${store.tables.quotedSchema}.command_requests`;
    this.#requestChannel = `${store.tables.channel}_cmd`;
    this.#replyChannel = `${store.tables.channel}_cmdr`;
  }

  // ---- the origin side ----

  /** Sends a call to a process running `reg`'s roles; resolves with its output. */
  async forward(c: { reg: Registration; input: unknown; id: string; principal: unknown; tenant: string }): Promise<{ value: unknown; duplicate: boolean }> {
    const { driver } = this.#store;
    await this.#listenReplies();
    const res = await driver.query<{ rid: string | number }>(
      `INSERT INTO ${this.#table} (tenant, id, name, role, input, principal) VALUES ($1, $2, $3, $4, $5, $6) RETURNING rid`,
      [c.tenant, c.id, c.reg.decl.name, c.reg.roles!.join(','), encodeValue(c.input), encodeValue(c.principal)],
    );
    const rid = String(res.rows[0]!.rid);
    debug('forwarding %s %s %s as request %s to roles %s', c.reg.decl.kind, c.reg.decl.name, c.id, rid, c.reg.roles!.join(','));
    let resolveReply!: (r: Reply) => void;
    const replied = new Promise<Reply>((r) => (resolveReply = r));
    this.#waiters.set(rid, { resolve: resolveReply });
    const poll = setInterval(() => void this.#readReply(rid), this.#o.pollIntervalMs);
    try {
      await driver.query('SELECT pg_notify($1, $2)', [this.#requestChannel, c.reg.decl.name]);
      const reply = await this.#await(rid, replied, c.reg);
      if (!reply.ok) throw errorFromRecord(reply.error);
      return { value: decodeStoredValue(reply.result), duplicate: false };
    } finally {
      clearInterval(poll);
      this.#waiters.delete(rid);
      await driver.query(`DELETE FROM ${this.#table} WHERE rid = $1 AND state = 'done'`, [rid]).catch(() => undefined);
    }
  }

  /** The reply, or NO_HANDLER when nobody took the request in time, or TIMEOUT when its taker did
   * not answer within the handler's deadline. */
  async #await(rid: string, replied: Promise<Reply>, reg: Registration): Promise<Reply> {
    const untaken = await raceTimer(replied, this.#o.forwardTimeoutMs);
    if (untaken !== undefined) return untaken;
    const withdrawn = await this.#store.driver.query(`DELETE FROM ${this.#table} WHERE rid = $1 AND state = 'pending' RETURNING rid`, [rid]);
    if (withdrawn.rows.length > 0)
      throw new FeteError('NO_HANDLER', `no process running roles ${reg.roles!.join(', ')} took ${reg.decl.kind} "${reg.decl.name}" within ${this.#o.forwardTimeoutMs} ms`);
    // Taken: its taker has the handler's deadline (plus the time to write the reply).
    const late = await raceTimer(replied, reg.timeoutMs + this.#o.forwardTimeoutMs);
    if (late !== undefined) return late;
    await this.#store.driver.query(`DELETE FROM ${this.#table} WHERE rid = $1`, [rid]).catch(() => undefined);
    throw new FeteError('TIMEOUT', `${reg.decl.kind} "${reg.decl.name}" was taken by another process but not answered in time`);
  }

  async #readReply(rid: string): Promise<void> {
    const waiter = this.#waiters.get(rid);
    if (!waiter) return;
    try {
      const res = await this.#store.driver.query<{ reply: Reply | string | null }>(`SELECT reply FROM ${this.#table} WHERE rid = $1 AND state = 'done'`, [rid]);
      const raw = res.rows[0]?.reply;
      if (raw === undefined || raw === null) return;
      waiter.resolve(typeof raw === 'string' ? (JSON.parse(raw) as Reply) : raw);
    } catch (err) {
      debug('reading the reply of request %s failed (polled again): %s', rid, (err as Error).message);
    }
  }

  #listenReplies(): Promise<unknown> {
    this.#replyListen ??= this.#store.driver
      .listen(
        this.#replyChannel,
        (rid) => void this.#readReply(rid),
        () => {
          for (const rid of this.#waiters.keys()) void this.#readReply(rid);
        },
      )
      .catch((err: Error) => {
        debug('LISTEN for command replies failed, relying on polling: %s', err.message);
        return undefined;
      });
    return this.#replyListen;
  }

  // ---- the serving side ----

  /** Starts taking requests for the owners this process runs (listening only once it has one
   * with `roles`: other owners run wherever they are registered and are never forwarded). */
  async start(): Promise<void> {
    if (this.#serving || this.#stopped) return;
    this.#serving = true;
    await this.#listenRequests();
  }

  #listenRequests(): Promise<void> {
    if (!this.#serving || this.#stopped || this.#host.names().length === 0) return Promise.resolve();
    this.#requestListen ??= (async () => {
      try {
        this.#requestUnlisten = await this.#store.driver.listen(this.#requestChannel, () => this.wake(), () => this.wake());
      } catch (err) {
        debug('LISTEN for forwarded commands failed, relying on polling: %s', (err as Error).message);
      }
      if (this.#stopped) return;
      this.#pollTimer = setInterval(() => this.wake(), this.#o.pollIntervalMs);
      this.wake();
    })();
    return this.#requestListen;
  }

  /** Looks for requests now (a NOTIFY, a new owner, the poll). */
  wake(): void {
    if (!this.#serving || this.#stopped) return;
    if (!this.#requestListen) {
      void this.#listenRequests();
      return;
    }
    if (this.#draining) {
      this.#again = true;
      return;
    }
    this.#draining = this.#drain()
      .catch((err: Error) => debug('taking forwarded commands failed: %s', err.message))
      .finally(() => {
        this.#draining = undefined;
        if (this.#again) {
          this.#again = false;
          this.wake();
        }
      });
  }

  async #drain(): Promise<void> {
    const names = this.#host.names();
    if (names.length === 0) return;
    for (;;) {
      const res = await this.#store.driver.query<{ rid: string | number; tenant: string; id: string; name: string; input: string; principal: string }>(
        `WITH c AS (SELECT rid FROM ${this.#table} WHERE state = 'pending' AND name = ANY($1::text[]) ORDER BY rid LIMIT ${CLAIM_BATCH} FOR UPDATE SKIP LOCKED)
         UPDATE ${this.#table} r SET state = 'running' FROM c WHERE r.rid = c.rid
         RETURNING r.rid, r.tenant, r.id, r.name, r.input, r.principal`,
        [names],
      );
      for (const row of res.rows) {
        const p = this.#serve(row).finally(() => this.#inflight.delete(p));
        this.#inflight.add(p);
      }
      if (res.rows.length < CLAIM_BATCH || this.#stopped) return;
    }
  }

  async #serve(row: { rid: string | number; tenant: string; id: string; name: string; input: string; principal: string }): Promise<void> {
    let reply: Reply;
    try {
      // The input is the output of the owner's input schema in the origin process (command-bus.ts),
      // not validated again; decoded with the bounds anyway (the row is only as safe as the store).
      const input = decodeValue(row.input);
      const value = await this.#host.serve({ kind: 'command', name: row.name, input, id: row.id, principal: decodeStoredValue(row.principal), tenant: row.tenant });
      reply = { ok: true, result: encodeValue(value) };
    } catch (err) {
      const e = isFeteError(err) ? err : FeteError.from(err);
      reply = { ok: false, error: errorRecord(e.code === 'INTERNAL' ? new FeteError('INTERNAL', 'internal error') : e) };
    }
    const { driver } = this.#store;
    await driver.query(`UPDATE ${this.#table} SET state = 'done', reply = $2::jsonb WHERE rid = $1`, [row.rid, JSON.stringify(reply)]);
    await driver.query('SELECT pg_notify($1, $2)', [this.#replyChannel, String(row.rid)]);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#requestListen;
    clearInterval(this.#pollTimer);
    await this.#draining;
    await Promise.allSettled([...this.#inflight]);
    await this.#requestUnlisten?.().catch(() => undefined);
    const unlisten = await this.#replyListen;
    await unlisten?.().catch(() => undefined);
    // Callers waiting for replies are told now rather than at their deadline.
    for (const w of this.#waiters.values()) w.resolve({ ok: false, error: { code: 'CLOSED', message: 'fete is stopped' } });
  }
}

/** `p`'s value, or undefined after `ms`. */
async function raceTimer<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
