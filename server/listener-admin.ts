// Adding and removing listeners on a running server: `fete.on`, `fete.schedule`, `fete.off`,
// `fete.listeners.retire` and `fete.skip`. The registry holds this process's listeners; durable
// ones are also recorded in the store (durable-listeners.ts) and retired there.
import { type AnyTopic, FeteError } from '../shared/index.js';
import type { Dispatcher } from './dispatch/dispatcher.js';
import type { InlineDispatcher } from './dispatch/inline-dispatcher.js';
import type { DurableListeners } from './durable-listeners.js';
import type { RetireOptions } from './fete-api.js';
import type { Lifecycle } from './lifecycle.js';
import type { ListenerOptions } from './options.js';
import type { AnyHandler, Registry } from './registry.js';
import { type ScheduleHandler, type ScheduleOptions, type Scheduler, scheduleTopic } from './schedule/scheduler.js';
import type { ScheduleSpec } from './schedule/schedule-spec.js';
import { notifyWake } from './store/delivery-queries.js';
import { type RetireResult, retireListeners, skipDelivery } from './store/listener-queries.js';
import type { Store } from './store/open-store.js';

export interface ListenerControlDeps {
  life: Lifecycle;
  registry: Registry;
  listeners: DurableListeners | undefined;
  dispatcher: Dispatcher | undefined;
  inline: InlineDispatcher;
  scheduler: Scheduler;
  store: Store | undefined;
}

export class ListenerControl {
  constructor(private readonly d: ListenerControlDeps) {}

  /** `fete.on`: @throws FeteError `CLOSED` once `stop()` was called. */
  on(target: AnyTopic | string, name: string, handler: AnyHandler, options?: ListenerOptions): void {
    this.d.life.assertAccepting();
    const listener = this.d.registry.add(target, name, handler, options);
    if (listener.options.durable) this.d.listeners?.add(listener);
  }

  /** `fete.schedule`: declares the schedule; a handler runs as an internal listener of the tick topic. */
  schedule(name: string, spec: ScheduleSpec, target: ScheduleHandler | { topic: unknown; payload: unknown }, options: ScheduleOptions): void {
    this.d.life.assertAccepting();
    const { scheduler, registry } = this.d;
    scheduler.declare(name, spec, target, options);
    if (typeof target !== 'function') return;
    const listenerOptions: ListenerOptions = {};
    if (options.retries !== undefined) listenerOptions.retries = options.retries;
    if (options.timeoutMs !== undefined) listenerOptions.timeoutMs = options.timeoutMs;
    const l = registry.addInternal(
      scheduleTopic(name),
      (payload, ctx) => scheduler.run(name, payload, ctx as never, ctx.attempt >= l.options.retries + 1),
      listenerOptions,
    );
    if (l.options.durable) this.d.listeners?.add(l);
  }

  /** `fete.off`: false if no such listener is registered here. */
  async off(target: AnyTopic | string, name: string): Promise<boolean> {
    this.d.life.assertOpen();
    const { registry } = this.d;
    const l = registry.remove(registry.targetOf(target), name);
    if (!l) return false;
    this.d.listeners?.delete(l);
    if (l.storeId !== undefined) await this.d.dispatcher?.remove(l.storeId);
    return true;
  }

  /** `fete.listeners.retire`: @throws FeteError `INVALID_OPTIONS` without a name. */
  async retire(name: string, options: RetireOptions = {}): Promise<RetireResult> {
    this.d.life.assertOpen();
    if (typeof name !== 'string' || name.length === 0) throw new FeteError('INVALID_OPTIONS', 'retire: a listener name is needed');
    const { registry, store } = this.d;
    const target = options.target === undefined ? undefined : registry.targetOf(options.target);
    // Registered here too: stop it first, or this process would keep vouching for it.
    for (const l of registry.all()) if (l.name === name && (target === undefined || l.target === target)) await this.off(l.target, name);
    if (!store) return { listeners: 0, removed: 0, dead: 0 };
    const { driver, tables } = store;
    const { ids: _ids, ...result } = await driver.transaction((tx) => retireListeners(tx, tables, name, { target, dropDead: options.dropDead }));
    return result;
  }

  /** `fete.skip`: @throws FeteError `NOT_FOUND` unless the delivery is dead or pending. */
  async skip(deliveryId: number): Promise<void> {
    this.d.life.assertOpen();
    const { store, inline } = this.d;
    if (!Number.isSafeInteger(deliveryId)) throw new FeteError('NOT_FOUND', `no delivery ${String(deliveryId)}`);
    if (deliveryId < 0 || !store) {
      if (!inline.skip(deliveryId)) throw new FeteError('NOT_FOUND', `no dead letter ${deliveryId}`);
      return;
    }
    const { driver, tables } = store;
    const listenerId = await skipDelivery(driver, tables, deliveryId);
    if (listenerId === undefined) throw new FeteError('NOT_FOUND', `delivery ${deliveryId} is not dead or pending`, { details: { deliveryId } });
    await notifyWake(driver, tables, [listenerId]);
  }
}
