// The writer's side of the log, for every emit of this process: waits for durable listeners to be
// recorded, appends (letting idle local listeners claim in the same statement), and after the
// commit runs the non-durable listeners of the new events and reports the commit to the log's
// readers (commit hooks: the fanout and followers get the events without a read).
import type { Envelope } from '../../shared/index.js';
import { planDelivery } from '../dispatch/delivery-plan.js';
import type { EmitOptions } from '../types.js';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { InlineDispatcher } from '../dispatch/inline-dispatcher.js';
import type { DurableListeners } from '../durable-listeners.js';
import type { Registry } from '../registry.js';
import type { Queryable } from '../store/driver.js';
import type { TakenDelivery } from '../store/event-queries.js';
import type { EmitResult, EventLog } from './event-log.js';

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
  constructor(private readonly d: LogWriterDeps) {}

  /** Appends in autocommit, then runs what follows the commit. A single event may be claimed by an
   * idle local listener in the append itself (no round trip through NOTIFY and a claim). */
  async emit(envelopes: Envelope[], options?: ReadonlyArray<EmitOptions | undefined>): Promise<EmitResult[]> {
    if (envelopes.length === 0) return [];
    const taken: TakenDelivery[] = [];
    const results = await this.#append(envelopes, undefined, envelopes.length === 1 ? taken : undefined, options);
    if (taken.length > 0) this.d.dispatcher!.adopt(taken);
    this.committed(envelopes, results, options);
    return results;
  }

  /** Runs `fn` in one transaction; `append` appends in it. What follows the commit runs after it. */
  async transaction<R>(
    fn: (append: (envelopes: Envelope[], options?: ReadonlyArray<EmitOptions | undefined>) => Promise<EmitResult[]>, q: Queryable | undefined) => Promise<R>,
  ): Promise<R> {
    await this.d.listeners?.recorded(); // before the transaction: appends in it cannot wait
    const envelopes: Envelope[] = [];
    const results: EmitResult[] = [];
    const emitOptions: Array<EmitOptions | undefined> = [];
    const value = await this.d.log.transaction(
      (q) =>
        fn(async (built, options) => {
          const r = await this.#append(built, q, undefined, options);
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

  async #append(envelopes: Envelope[], q: Queryable | undefined, taken?: TakenDelivery[], options?: ReadonlyArray<EmitOptions | undefined>): Promise<EmitResult[]> {
    if (!q) await this.d.listeners?.recorded();
    // Due times and ordering keys, checked the same way with or without a store (after recording:
    // the keys of local listeners need their store ids).
    const durable = this.d.log.durable ? this.d.registry.all().filter((l) => l.options.durable) : [];
    const plans = options && envelopes.map((e, i) => planDelivery(e, options[i], durable));
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
  committed(envelopes: readonly Envelope[], results: readonly EmitResult[], options?: ReadonlyArray<EmitOptions | undefined>): void {
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
