// The client outbox: emits are committed to a store (group commit, one durable transaction per
// group) before `emit` resolves, and drained to the server by the leader tab. It also settles each
// emit's `delivered` promise: directly when this tab sent the entry, or from the outcome the leader
// recorded for it (broadcast to the tabs, with the store's `results` polled as a fallback).
import { type ByDelivery, FeteError, type WireError } from '../shared/index.js';
import type { RetryOptions } from './backoff.js';
import { GroupCommit } from './group-commit.js';
import { electLeader, type Leadership, type LockManagerLike } from './leader.js';
import { OutboxDrainer, type SettledEntry } from './outbox-drainer.js';
import type { Outcome, OutboxRecord, OutboxStore, RejectedRecord, ResultRecord } from './outbox-store.js';
import { openTabChannel, type ChannelFactory, type TabChannel, type TabMessage } from './tab-channel.js';
import type { Transport } from './transport.js';
import { fromWireError } from './wire.js';
import { fromCmdError } from './command-ack.js';

/** What `receipt.delivered` resolves to for a `delivery: 'log'` topic: the event's `seq` in the
 * server's log (a duplicate: the first emit's), and whether the server already had the id (a
 * resend after a lost ack, or an id the app reused). */
export interface DeliveredLogged {
  id: string;
  seq: number;
  duplicate: boolean;
}

/** `receipt.delivered` of a `delivery: 'latest'` topic: the `version` the value got for its
 * subject, no seq (it is in no log). A duplicate answers the version its id got when the server
 * still knows it (the README's "Volatile and latest-value topics"), else none. */
export type DeliveredLatest = { id: string; duplicate: false; version: number } | { id: string; duplicate: true; version?: number };

/** `receipt.delivered` of a `delivery: 'volatile'` topic: sent (or a duplicate); no seq, no version. */
export interface DeliveredVolatile {
  id: string;
  duplicate: boolean;
}

/** What `receipt.delivered` resolves to, by the topic's delivery (DeliveredOf). */
export type Delivered = DeliveredLogged | DeliveredLatest | DeliveredVolatile;

/** `receipt.delivered` of topic `T`: DeliveredLogged, DeliveredLatest or DeliveredVolatile. */
export type DeliveredOf<T> = ByDelivery<T, DeliveredLogged, DeliveredLatest, DeliveredVolatile>;

/** The receipt's answer from an outcome: the position the server gave (a log seq, a latest
 * version) as it is. A seq of 0 is no position: older servers, and outcomes older clients stored in
 * IndexedDB, answered it for volatile and latest topics; it is dropped, never handed on. */
export function deliveredOf(id: string, outcome: { status: 'accepted' | 'duplicate'; seq?: number; version?: number }): Delivered {
  const duplicate = outcome.status === 'duplicate';
  if (typeof outcome.seq === 'number' && outcome.seq > 0) return { id, seq: outcome.seq, duplicate };
  const version = outcome.version;
  if (typeof version === 'number') return duplicate ? { id, duplicate: true, version } : { id, duplicate: false, version };
  return { id, duplicate };
}

export interface OutboxOptions {
  store: Promise<OutboxStore>;
  transport: Transport;
  /** This client's id among the tabs. */
  tab: string;
  /** Names the Web Lock and the BroadcastChannel shared by the tabs. */
  name: string;
  locks: LockManagerLike | undefined;
  channel: ChannelFactory | undefined;
  ackTimeoutMs: number;
  /** Most bytes of envelopes in one `emit` packet. */
  maxBatchBytes: number;
  retry: Required<RetryOptions>;
  pollIntervalMs: number;
  resultTtlMs: number;
  onStatus(patch: { leader?: boolean; pending?: number }): void;
  onError(err: FeteError): void;
}

interface Waiter {
  resolve: (d: Delivered) => void;
  reject: (err: FeteError) => void;
}

/** A queued command's answer: its encoded output, or the server's refusal. */
export type CommandOutcome = { ok: true; result: string } | { ok: false; error: FeteError };

/** Queue entries looked through for a command id (`commandOutcome`). */
const QUEUE_SCAN_LIMIT = 10_000;

const noop = () => {};

/** A storage failure as the app sees it: a full quota is QUOTA_EXCEEDED (the app must free space or
 * tell the user); anything else is STORE_UNAVAILABLE. */
export function storageError(err: unknown): FeteError {
  if (err instanceof FeteError) return err;
  const { name, code } = (err ?? {}) as { name?: unknown; code?: unknown };
  // code 22 / NS_ERROR_DOM_QUOTA_REACHED: older Safari and Firefox.
  if (name === 'QuotaExceededError' || name === 'NS_ERROR_DOM_QUOTA_REACHED' || code === 22)
    return new FeteError('QUOTA_EXCEEDED', 'browser storage is full: the emit was not queued', { cause: err });
  const message = err instanceof Error ? err.message : String(err);
  return new FeteError('STORE_UNAVAILABLE', `outbox storage failed: ${message}`, { cause: err });
}

export class Outbox {
  readonly #o: OutboxOptions;
  readonly #commit: GroupCommit<OutboxRecord>;
  readonly #waiters = new Map<string, Waiter[]>();
  readonly #commandWaiters = new Map<string, Array<(o: CommandOutcome) => void>>();
  readonly #ready: Promise<void>;
  #store: OutboxStore | undefined;
  #openError: FeteError | undefined;
  #drainer: OutboxDrainer | undefined;
  #leadership: Leadership | undefined;
  #channel: TabChannel | undefined;
  #pollTimer: ReturnType<typeof setTimeout> | undefined;
  #pending = 0;
  /** Bumped by every local change of `#pending`, so a count read concurrently is not applied over it. */
  #pendingVersion = 0;
  #counting = false;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(options: OutboxOptions) {
    this.#o = options;
    this.#commit = new GroupCommit((records) => this.#write(records));
    this.#ready = options.store.then(
      (store) => this.#open(store),
      (err: unknown) => {
        this.#openError = storageError(err);
        options.onError(this.#openError);
      },
    );
  }

  get leader(): boolean {
    return this.#leadership?.isLeader ?? false;
  }

  /** Queues a record durably; resolves once committed. Rejects QUOTA_EXCEEDED, STORE_UNAVAILABLE
   * or CLOSED, and nothing is queued then. */
  async append(record: OutboxRecord): Promise<void> {
    if (this.#closed) throw closedError();
    await this.#ready;
    if (this.#store === undefined) throw this.#openError ?? closedError();
    // Called before close(): written, since close() flushes what was submitted before it.
    await this.#commit.submit(record);
  }

  /** The promise settled by the server's outcome for `id`; `cancel` drops it (append failed). */
  expect(id: string): { delivered: Promise<Delivered>; cancel(): void } {
    let waiter!: Waiter;
    const delivered = new Promise<Delivered>((resolve, reject) => (waiter = { resolve, reject }));
    // The rejection is also visible in the rejected list and the status: an app that does not
    // await `delivered` must not get an unhandled rejection for it.
    delivered.catch(noop);
    const list = this.#waiters.get(id);
    if (list) list.push(waiter);
    else this.#waiters.set(id, [waiter]);
    return {
      delivered,
      cancel: () => {
        const l = this.#waiters.get(id);
        if (!l) return;
        const i = l.indexOf(waiter);
        if (i >= 0) l.splice(i, 1);
        if (l.length === 0) this.#waiters.delete(id);
      },
    };
  }

  connected(): void {
    this.#drainer?.reconnected();
  }

  /** The answer of queued command `id`: settled when the leader (any tab, any page load) has
   * sent it, or at once when its outcome is recorded. NOT_FOUND when it is neither queued nor
   * recorded (never queued here, or its outcome is past `resultTtlMs`). */
  async commandOutcome(id: string): Promise<CommandOutcome> {
    if (this.#closed) throw closedError();
    await this.#ready;
    const store = this.#requireStore();
    let resolve!: (o: CommandOutcome) => void;
    const answered = new Promise<CommandOutcome>((r) => (resolve = r));
    // Registered before looking, so an outcome that lands in between is not missed.
    const list = this.#commandWaiters.get(id) ?? [];
    list.push(resolve);
    this.#commandWaiters.set(id, list);
    const [recorded] = await store.results([id]);
    if (recorded?.cmd) this.#resolveCommand(id, recorded.outcome);
    else if (!(await store.head(QUEUE_SCAN_LIMIT)).some((r) => r.id === id && r.cmd !== undefined)) {
      const [late] = await store.results([id]);
      if (late?.cmd) this.#resolveCommand(id, late.outcome);
      else this.#resolveCommand(id, undefined);
    }
    return answered;
  }

  /** Settles command waiters of `id` (undefined: NOT_FOUND). */
  #resolveCommand(id: string, outcome: Outcome | undefined): boolean {
    const list = this.#commandWaiters.get(id);
    if (list === undefined) return false;
    this.#commandWaiters.delete(id);
    const answer: CommandOutcome =
      outcome === undefined
        ? { ok: false, error: new FeteError('NOT_FOUND', `no queued command ${id} and no recorded outcome for it`, { details: { id } }) }
        : outcome.status === 'executed'
          ? { ok: true, result: outcome.result }
          : outcome.status === 'rejected'
            ? { ok: false, error: fromCmdError(outcome.error) }
            : { ok: false, error: new FeteError('INTERNAL', `entry ${id} is an emit, not a command`) };
    for (const w of list) w(answer);
    return true;
  }

  async rejected(): Promise<RejectedRecord[]> {
    if (this.#closed) throw closedError();
    await this.#ready;
    return this.#requireStore().rejected();
  }

  async discardRejected(ids?: readonly string[]): Promise<void> {
    if (this.#closed) throw closedError();
    await this.#ready;
    await this.#requireStore().discardRejected(ids);
  }

  /**
   * Drops every entry still queued, of every tab of this outbox (emits and queued commands), so
   * that none is ever sent, and the rejected emits and recorded command results (payloads and
   * outputs of the user who leaves): for sign-out, before another user signs in on the same browser
   * profile (queued entries go out with whoever's credentials the connection has when they are sent).
   * Entries submitted before the call are written first, then dropped. Their receipts, in every
   * tab, reject with ABORTED. A batch already sent to the server is not recalled: the server may
   * still apply it. Resolves with how many emits and commands were dropped. Rejects CLOSED, or
   * with the storage's error (nothing dropped then).
   */
  async clear(): Promise<{ emits: number; commands: number }> {
    if (this.#closed) throw closedError();
    await this.#ready;
    const store = this.#requireStore();
    await this.#commit.flushed();
    let removed: Array<{ id: string; cmd: boolean }>;
    try {
      removed = await store.clearQueue();
    } catch (err) {
      throw storageError(err);
    }
    const ids = removed.map((r) => r.id);
    this.#dropped(ids);
    this.#adjustPending(-removed.length);
    this.#channel?.post({ t: 'cleared', ids });
    const commands = removed.filter((r) => r.cmd).length;
    return { emits: removed.length - commands, commands };
  }

  /** Receipts of entries cleared from the queue: they will never be sent. */
  #dropped(ids: readonly string[]): void {
    const error = (id: string) => new FeteError('ABORTED', `entry ${id} was cleared from the outbox (client.outbox.clear()) and not sent`, { details: { id } });
    for (const id of ids) {
      const list = this.#waiters.get(id);
      if (list !== undefined) {
        this.#waiters.delete(id);
        for (const w of list) w.reject(error(id));
      }
      const commands = this.#commandWaiters.get(id);
      if (commands !== undefined) {
        this.#commandWaiters.delete(id);
        for (const w of commands) w({ ok: false, error: error(id) });
      }
    }
  }

  /** Stops draining (the transport must be closed first, so an ack in flight is rejected), writes
   * what was already submitted, releases leadership, rejects open receipts with CLOSED (their
   * entries stay queued for the next client) and closes the store. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#pollTimer);
    await this.#ready;
    await this.#drainer?.stop();
    await this.#commit.flushed();
    this.#leadership?.close();
    this.#channel?.close();
    const closed = new FeteError('CLOSED', 'the client closed before the server acknowledged this emit; it stays in the outbox');
    for (const list of this.#waiters.values()) for (const w of list) w.reject(closed);
    this.#waiters.clear();
    const closedCmd: CommandOutcome = { ok: false, error: new FeteError('CLOSED', 'the client closed before the queued command was answered; it stays in the outbox') };
    for (const list of this.#commandWaiters.values()) for (const w of list) w(closedCmd);
    this.#commandWaiters.clear();
    this.#store?.close();
  }

  // ---- setup ----

  #open(store: OutboxStore): void {
    this.#store = store;
    // Closed while opening: emits called before close() are still written by #close's flush.
    if (this.#closed) return;
    const o = this.#o;
    this.#drainer = new OutboxDrainer({
      store,
      transport: o.transport,
      tab: o.tab,
      ackTimeoutMs: o.ackTimeoutMs,
      maxBatchBytes: o.maxBatchBytes,
      retry: o.retry,
      pollIntervalMs: o.pollIntervalMs,
      resultTtlMs: o.resultTtlMs,
      canSend: () => !this.#closed && this.leader && o.transport.connected,
      onSettled: (entries, results) => this.#settled(entries, results),
      onError: o.onError,
    });
    // An unshared store (memory) has no other tab to coordinate with.
    const shared = store.shared;
    this.#channel = openTabChannel(shared ? o.channel : undefined, `fete:${o.name}`, (m) => this.#onTabMessage(m));
    this.#leadership = electLeader(
      shared ? o.locks : undefined,
      `fete:${o.name}:outbox`,
      (leader) => {
        o.onStatus({ leader });
        this.#drainer?.wake();
      },
      (err) => o.onError(FeteError.from(err, 'INTERNAL')),
    );
    o.onStatus({ leader: this.leader });
    this.#drainer.start();
    void this.#refreshPending();
    // Alone with its store, this client settles every receipt itself: nothing to poll for.
    if (shared) this.#schedulePoll();
  }

  #requireStore(): OutboxStore {
    if (this.#store === undefined) throw this.#openError ?? closedError();
    return this.#store;
  }

  // ---- writing ----

  async #write(records: OutboxRecord[]): Promise<void> {
    try {
      await this.#store!.append(records);
    } catch (err) {
      const error = storageError(err);
      this.#o.onError(error);
      throw error;
    }
    this.#adjustPending(records.length);
    if (this.leader) this.#drainer?.wake();
    else this.#channel?.post({ t: 'enqueued' });
  }

  // ---- outcomes ----

  #settled(entries: SettledEntry[], results: ResultRecord[]): void {
    this.#adjustPending(-entries.length);
    for (const { record, outcome } of entries) {
      if (record.cmd !== undefined) {
        this.#resolveCommand(record.id, outcome);
        continue;
      }
      this.#resolve(record.id, outcome);
      if (outcome.status === 'rejected') this.#o.onError(rejectedError(record.id, outcome.error));
    }
    this.#channel?.post({ t: 'settled', results });
  }

  #resolve(id: string, outcome: Outcome): boolean {
    const list = this.#waiters.get(id);
    if (list === undefined) return false;
    this.#waiters.delete(id);
    for (const w of list) {
      if (outcome.status === 'rejected') w.reject(rejectedError(id, outcome.error));
      else if (outcome.status === 'executed') w.reject(new FeteError('INTERNAL', `entry ${id} is a command, not an emit`));
      else w.resolve(deliveredOf(id, outcome));
    }
    return true;
  }

  /** Outcomes recorded by the leader for entries this tab wrote. */
  #applyResults(results: readonly ResultRecord[]): void {
    // Command outcomes stay until their TTL: they are read by command id, also after a reload.
    for (const r of results) if (r.cmd) this.#resolveCommand(r.id, r.outcome);
    const mine = results.filter((r) => !r.cmd && this.#resolve(r.id, r.outcome)).map((r) => r.id);
    // Read by their one reader: drop them now rather than at the TTL.
    if (mine.length > 0) this.#store?.forgetResults({ ids: mine }).catch(noop);
  }

  #onTabMessage(message: TabMessage): void {
    if (this.#closed) return;
    if (message.t === 'settled') this.#applyResults(message.results);
    else if (message.t === 'cleared') this.#dropped(message.ids);
    else if (this.leader) this.#drainer?.wake();
    void this.#refreshPending();
  }

  /** The fallback for lost or missing broadcasts: look for our outcomes and recount the queue. */
  #schedulePoll(): void {
    this.#pollTimer = setTimeout(async () => {
      if (this.#closed) return;
      const store = this.#store!;
      if (this.#waiters.size > 0 || this.#commandWaiters.size > 0) {
        try {
          this.#applyResults(await store.results([...this.#waiters.keys(), ...this.#commandWaiters.keys()]));
        } catch {
          // Tried again at the next tick.
        }
      }
      if (!this.leader) await this.#refreshPending();
      if (!this.#closed) this.#schedulePoll();
    }, this.#o.pollIntervalMs);
  }

  // ---- pending count ----

  #adjustPending(delta: number): void {
    this.#pendingVersion++;
    this.#pending = Math.max(0, this.#pending + delta);
    this.#o.onStatus({ pending: this.#pending });
  }

  /** Recounts the queue (other tabs append and settle too). A count that raced a local change is
   * dropped; the next refresh corrects it. */
  async #refreshPending(): Promise<void> {
    const store = this.#store;
    if (store === undefined || this.#counting || this.#closed) return;
    this.#counting = true;
    const version = this.#pendingVersion;
    try {
      const n = await store.count();
      if (version === this.#pendingVersion && !this.#closed) {
        this.#pending = n;
        this.#o.onStatus({ pending: n });
      }
    } catch {
      // Counting is best effort; the next message or poll tries again.
    } finally {
      this.#counting = false;
    }
  }
}

function closedError(): FeteError {
  return new FeteError('CLOSED', 'the client is closed');
}

function rejectedError(id: string, error: WireError): FeteError {
  const e = fromWireError(error);
  return new FeteError(e.code, `emit ${id} was rejected: ${e.message}`, { details: { id, ...e.details } });
}
