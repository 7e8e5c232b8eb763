// The writer's side of the log, for every emit of this process: waits for durable listeners to be
// recorded, appends (letting idle local listeners claim in the same statement), and after the
// commit runs the non-durable listeners of the new events and reports the commit to the log's
// readers (commit hooks: the fanout and followers get the events without a read). Emits outside a
// transaction are group-committed (group-commit.ts): those that arrive while an append is in
// flight go together in the next one, each with its own results and its own failure.
import { type Envelope, isFeteError } from '../../shared/index.js';
import { isPermanentStoreFault } from '../store/store-failure.js';
import { payloadTextOf } from '../../shared/codec.js';
import { planDelivery } from '../dispatch/delivery-plan.js';
import type { EmitOptions } from '../types.js';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { InlineDispatcher } from '../dispatch/inline-dispatcher.js';
import type { DurableListeners } from '../durable-listeners.js';
import type { Registry } from '../registry.js';
import type { Queryable } from '../store/driver.js';
import type { DeliveryPlan, TakenDelivery } from '../store/event-queries.js';
import type { EventLog, LoggedResult } from './event-log.js';
import { GroupCommit } from './group-commit.js';

/** Most events in one group-committed append: larger groups gain little (one round trip is paid
 * per group either way) and hold their first emit longer. A larger emitMany still goes alone. */
const MAX_GROUP_EVENTS = 1000;
/** Most payload text in one group (UTF-16 units, ~bytes for JSON): a few large payloads go alone
 * rather than make one statement of hundreds of megabytes. */
const MAX_GROUP_PAYLOAD_CHARS = 8 * 1024 * 1024;

/** An append in flight this long stops holding later emits back (group-commit.ts). Above the
 * append p99 measured here in the fanout benchmark at moderate load (10-45 ms), so groups stay one
 * at a time unless an append waits on a lock; on a starved machine (load 15-20 on 2 cores) append
 * p99 reached 240-530 ms and groups then overlap, as every emit's append did before grouping. */
const STALL_MS = 200;

/** SQLSTATE classes of a statement refused for its content: triggered action (09, 27), data
 * exception (22), integrity constraint (23), SQL routine and external routine (2F, 38, 39), syntax
 * or access rule (42), check option (44), raised by a trigger (P0). */
const CONTENT_STATES = /^(09|22|23|27|2F|38|39|42|44|P0)[0-9A-Z]{3}$/;

/** Whether a failed group append may be one emit's own fault (see GroupCommitOptions): the store
 * answered and refused the statement's content. A store that cannot be reached or cannot write
 * (isPermanentStoreFault: a read-only data directory also says 42501) fails the whole group. */
function mayBeOneEmits(err: unknown): boolean {
  const cause = isFeteError(err) ? err.cause : err;
  const code = (cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && CONTENT_STATES.test(code) && !isPermanentStoreFault(cause);
}

/** One emit (or emitMany) waiting to be group-committed. */
interface EmitRequest {
  envelopes: Envelope[];
  options: ReadonlyArray<EmitOptions | undefined> | undefined;
  plans: Array<DeliveryPlan | undefined> | undefined;
  /** The group's size unit: its events, or more for large payloads. */
  size: number;
}

export interface LogWriterDeps {
  log: EventLog;
  registry: Registry;
  inline: InlineDispatcher;
  /** The durable dispatcher and its listeners (store only). */
  dispatcher: Dispatcher | undefined;
  listeners: DurableListeners | undefined;
  /** Told after every append that reached the store, and after one that failed (store outage
   * logging, the no-worker watch). */
  appended?(): void;
  appendFailed?(err: unknown): void;
  /** Whether idle local listeners claim in the append, and for how long. */
  localTake: boolean;
  leaseMs: number;
}

export class LogWriter {
  readonly #group: GroupCommit<EmitRequest, LoggedResult[], TakenDelivery[]>;

  constructor(private readonly d: LogWriterDeps) {
    this.#group = new GroupCommit({
      append: (requests) => this.#appendGroup(requests),
      after: (requests, results, taken) => this.#afterGroup(requests, results, taken),
      sizeOf: (r) => r.size,
      maxGroupSize: MAX_GROUP_EVENTS,
      mayBeOneItems: mayBeOneEmits,
      stallMs: STALL_MS,
    });
  }

  /** Appends in autocommit, group-committed with concurrent emits, then runs what follows the
   * commit. An append of a single event may be claimed by an idle local listener in the append
   * itself (no round trip through NOTIFY and a claim). Resolves after the commit hooks ran (the
   * fanout has sent the events to this process's sockets). Rejects (STORE_UNAVAILABLE...) only
   * when this emit's own events could not be appended. */
  async emit(envelopes: Envelope[], options?: ReadonlyArray<EmitOptions | undefined>): Promise<LoggedResult[]> {
    if (envelopes.length === 0) return [];
    await this.d.listeners?.recorded();
    const plans = this.#plans(envelopes, options);
    let size = envelopes.length;
    let chars = 0;
    for (const e of envelopes) chars += payloadTextOf(e).length;
    if (chars > MAX_GROUP_PAYLOAD_CHARS / MAX_GROUP_EVENTS) size = Math.max(size, Math.ceil((chars / MAX_GROUP_PAYLOAD_CHARS) * MAX_GROUP_EVENTS));
    return this.#group.submit({ envelopes, options, plans, size });
  }

  async #appendGroup(requests: readonly EmitRequest[]): Promise<{ results: LoggedResult[][]; extra: TakenDelivery[] }> {
    const one = requests.length === 1 ? requests[0]! : undefined;
    const envelopes = one ? one.envelopes : requests.flatMap((r) => r.envelopes);
    const plans = one ? one.plans : requests.some((r) => r.plans) ? requests.flatMap((r) => r.plans ?? r.envelopes.map(() => undefined)) : undefined;
    // Only an append of one event takes (see appendEvents); a group of several leaves its
    // deliveries to the claim, woken by the append's NOTIFY.
    const taken: TakenDelivery[] = [];
    const flat = await this.#append(envelopes, undefined, envelopes.length === 1 ? taken : undefined, plans);
    const results: LoggedResult[][] = [];
    let at = 0;
    for (const r of requests) {
      results.push(flat.slice(at, at + r.envelopes.length));
      at += r.envelopes.length;
    }
    return { results, extra: taken };
  }

  #afterGroup(requests: readonly EmitRequest[], results: readonly LoggedResult[][], taken: TakenDelivery[]): void {
    if (taken.length > 0) this.d.dispatcher!.adopt(taken);
    if (requests.length === 1) return this.committed(requests[0]!.envelopes, results[0]!, requests[0]!.options);
    // One report for the group: the fanout sends its events together (one packet per subscription).
    const envelopes: Envelope[] = [];
    const flat: LoggedResult[] = [];
    const options: Array<EmitOptions | undefined> = [];
    requests.forEach((r, i) => {
      envelopes.push(...r.envelopes);
      flat.push(...results[i]!);
      for (let k = 0; k < r.envelopes.length; k++) options.push(r.options?.[k]);
    });
    this.committed(envelopes, flat, options);
  }

  /** Due times and ordering keys, checked the same way with or without a store (after recording:
   * the keys of local listeners need their store ids). Throws for bad options (this emit only). */
  #plans(envelopes: readonly Envelope[], options: ReadonlyArray<EmitOptions | undefined> | undefined): Array<DeliveryPlan | undefined> | undefined {
    const durable = this.d.log.durable ? this.d.registry.all().filter((l) => l.options.durable) : [];
    // Without emit options only the listeners' `orderBy` can plan anything. Client emits (socket,
    // HTTP) pass none: probe3 found their events appended without those keys, so a listener's
    // deliveries of one key ran at once (3 at a time with concurrency 4).
    if (!options && !durable.some((l) => l.options.orderBy)) return undefined;
    return envelopes.map((e, i) => planDelivery(e, options?.[i], durable));
  }

  /** Runs `fn` in one transaction; `append` appends in it. What follows the commit runs after it. */
  async transaction<R>(
    fn: (append: (envelopes: Envelope[], options?: ReadonlyArray<EmitOptions | undefined>) => Promise<LoggedResult[]>, q: Queryable | undefined) => Promise<R>,
  ): Promise<R> {
    await this.d.listeners?.recorded(); // before the transaction: appends in it cannot wait
    const envelopes: Envelope[] = [];
    const results: LoggedResult[] = [];
    const emitOptions: Array<EmitOptions | undefined> = [];
    const value = await this.d.log.transaction(
      (q) =>
        fn(async (built, options) => {
          const r = await this.#append(built, q, undefined, this.#plans(built, options));
          envelopes.push(...built);
          results.push(...r);
          emitOptions.push(...(options ?? built.map(() => undefined)));
          return r;
        }, q),
      () => envelopes.filter((_, i) => !results[i]!.duplicate),
    );
    this.committed(envelopes, results, emitOptions);
    return value;
  }

  async #append(envelopes: Envelope[], q: Queryable | undefined, taken: TakenDelivery[] | undefined, plans: ReadonlyArray<DeliveryPlan | undefined> | undefined): Promise<LoggedResult[]> {
    const idle = taken && this.d.dispatcher && this.d.localTake ? this.d.dispatcher.idleListenerIds() : [];
    const take = idle.length > 0 ? { listenerIds: idle, leaseMs: this.d.leaseMs } : undefined;
    try {
      const results = await this.d.log.append(envelopes, { q, take, taken, plans });
      this.d.appended?.();
      return results;
    } catch (err) {
      this.d.appendFailed?.(err);
      throw err;
    }
  }

  /** After a commit: run non-durable listeners of the new events, and hand the events to the log's
   * readers in this process. */
  committed(envelopes: readonly Envelope[], results: readonly LoggedResult[], options?: ReadonlyArray<EmitOptions | undefined>): void {
    const fresh: Envelope[] = [];
    for (let i = 0; i < envelopes.length; i++) {
      const r = results[i]!;
      if (r.duplicate) continue;
      const envelope = { ...envelopes[i]!, seq: r.seq };
      fresh.push(envelope);
      const listeners = this.d.registry.inlineFor(envelope);
      if (listeners.length > 0) this.d.inline.dispatch(envelope, listeners, options?.[i]);
    }
    this.d.log.committed(fresh);
  }
}
