// The wiring of a fete's parts, done once for createFete: the registry of listeners, the
// dispatchers (dispatch/), the writer that appends emits (log/log-writer.ts), the live parts
// (live/), commands, schedules, retention and the operator's calls. Returns them for FeteServer.
import createDebug from 'debug';
import { isFeteError, type TopicCatalog } from '../shared/index.js';
import type { EventBus } from './bus/event-bus.js';
import type { Links } from './bus/open-bus.js';
import { CommandBus } from './commands/command-bus.js';
import { Contexts } from './context/context-registry.js';
import { principalCodec } from './context/principal.js';
import { traceCodec } from './context/trace.js';
import type { StoreAttemptEmits } from './dispatch/attempt-emits.js';
import { Completer } from './dispatch/completer.js';
import { planDelivery } from './dispatch/delivery-plan.js';
import { Dispatcher } from './dispatch/dispatcher.js';
import { InlineDispatcher } from './dispatch/inline-dispatcher.js';
import { DeliveryOutcomes, type Outcome } from './delivery-outcomes.js';
import { Doors } from './doors.js';
import { DurableListeners } from './durable-listeners.js';
import { createFeteLog } from './fete-log.js';
import { stampAdmitted } from './ingress/stamp-headers.js';
import type { Lifecycle } from './lifecycle.js';
import { ListenerControl } from './listener-admin.js';
import { ListenerHeartbeat } from './listener-heartbeat.js';
import { type LiveParts, liveParts } from './live/live-parts.js';
import type { EventLog } from './log/event-log.js';
import { LogWriter } from './log/log-writer.js';
import { MemoryLog } from './log/memory-log.js';
import { LogEvents } from './logger.js';
import { NoWorkerWatch } from './no-worker-watch.js';
import { Operations } from './operations.js';
import type { ResolvedOptions } from './options.js';
import type { PresenceService } from './presence/presence-service.js';
import { Registry, type RegisteredListener } from './registry.js';
import { RetentionJob } from './retention-job.js';
import { Scheduler } from './schedule/scheduler.js';
import { MemoryScheduleState } from './schedule/schedule-state.js';
import type { Store } from './store/open-store.js';
import { pgliteTxScope } from './store/pglite-tx-scope.js';
import { StoreScheduleState } from './store/schedule-queries.js';
import { tenantCodec } from './security/tenant.js';
import { StoreOutage } from './store-outage.js';
import { Emits } from './transactions.js';
import type { FeteLog, FeteTransaction } from './types.js';

const liveDebug = createDebug('fete:live');

/** Everything a FeteServer delegates to; store-only parts are undefined without a store. */
export interface Parts<C extends TopicCatalog = TopicCatalog> {
  readonly o: ResolvedOptions;
  readonly store: Store | undefined;
  readonly log: EventLog;
  readonly contexts: Contexts;
  readonly registry: Registry;
  readonly inline: InlineDispatcher;
  readonly dispatcher: Dispatcher | undefined;
  readonly listeners: DurableListeners | undefined;
  readonly heartbeat: ListenerHeartbeat | undefined;
  readonly retention: RetentionJob | undefined;
  readonly noWorker: NoWorkerWatch | undefined;
  readonly scheduler: Scheduler;
  readonly writer: LogWriter;
  /** Volatile and latest topics: the channel, the hub and the route by delivery (live/live-parts.ts). */
  readonly live: LiveParts;
  readonly emits: Emits<C>;
  readonly admin: ListenerControl;
  readonly commands: CommandBus;
  readonly operations: Operations;
  readonly outcomes: DeliveryOutcomes;
  readonly doors: Doors;
  readonly logs: LogEvents;
  /** `fete.log`: the log as the application reads and appends it. */
  readonly feteLog: FeteLog;
  readonly presence: { readonly service: PresenceService; close(): Promise<void> };
  /** The NATS bus between web nodes (`bus` option), if any. */
  readonly bus: EventBus | undefined;
}

/** Wires the parts over an opened store and log; sets `life.dispatcherState`. */
export function assemble<C extends TopicCatalog>(o: ResolvedOptions, store: Store | undefined, log: EventLog, links: Links, life: Lifecycle): Parts<C> {
  const { channel, presence, bus } = links;
  const contexts = new Contexts();
  contexts.register(principalCodec);
  contexts.register(traceCodec);
  contexts.register(tenantCodec);
  const registry = new Registry(o.topics, o.listenerDefaults, o.dispatch);
  const logs = new LogEvents(o.logger);
  const outage = new StoreOutage(logs);
  const outcomes = new DeliveryOutcomes();
  const failed = logs.failure.bind(logs);
  const failedLive = (err: unknown) => liveDebug('sending the live emits of a succeeded attempt failed: %s', (err as Error)?.message);
  const outcome = (l: RegisteredListener, what: Outcome) => outcomes.record(l, what);
  // Wired below, read only once work runs: the dispatchers emit through the writer and the live route.
  let writer: LogWriter;
  let live: LiveParts;
  const emits = new Emits<C>({
    topics: o.topics,
    contexts,
    maxEnvelopeBytes: o.maxEnvelopeBytes,
    log,
    store,
    registry,
    life,
    get writer() {
      return writer;
    },
    get route() {
      return live.route;
    },
  });
  const noWorker = store
    ? new NoWorkerWatch({
        store,
        logs,
        running: () => life.dispatcherState === 'running',
        workerRole: o.roles.includes('worker'),
        dueForMs: 5 * o.worker.pollIntervalMs,
      })
    : undefined;
  const inline = new InlineDispatcher({
    contexts,
    random: o.random,
    begin: () => emits.attemptEmits(),
    tx: (attempt) => (attempt as StoreAttemptEmits).tx,
    scope: (attempt, fn) => {
      const driver = store?.driver;
      if (driver?.kind !== 'pglite') return fn();
      return pgliteTxScope.run({ driver, holding: () => (attempt as StoreAttemptEmits).holding }, fn);
    },
    outcome,
    failed,
  });
  const scheduler = new Scheduler({
    state: store ? new StoreScheduleState(store.driver, store.tables) : new MemoryScheduleState(),
    append: (envs) => emits.route(envs).then(() => undefined),
    build: (t, p, id) => emits.build(t, p, { id }),
    pollIntervalMs: o.worker.pollIntervalMs,
  });
  let dispatcher: Dispatcher | undefined;
  let heartbeat: ListenerHeartbeat | undefined;
  let listeners: DurableListeners | undefined;
  let retention: RetentionJob | undefined;
  if (store) {
    dispatcher = new Dispatcher(
      {
        store,
        contexts,
        completer: new Completer(store, o.worker.completionBatchSize),
        random: o.random,
        buildEnvelope: (t, p, opts) => emits.build(t, p, opts),
        plan: (e, opts) => planDelivery(e, opts, registry.all().filter((l) => l.options.durable)),
        afterCommit: (envs, results) => writer.committed(envs, results),
        live: { defers: (t) => live.route.isLiveTopic(t), send: (envs) => void emits.route(envs).catch(failedLive) },
        outcome,
        failed,
        outage,
      },
      o.worker,
    );
    heartbeat = new ListenerHeartbeat(store, o.listeners.heartbeatMs);
    listeners = new DurableListeners(store, dispatcher, registry, heartbeat);
    retention = new RetentionJob(store, o.topics, o.retention, o.listeners);
  }
  life.dispatcherState = dispatcher && o.roles.includes('worker') ? 'idle' : 'off';
  const { localTake, leaseMs } = o.worker;
  writer = new LogWriter({
    log,
    registry,
    inline,
    dispatcher,
    listeners,
    localTake,
    leaseMs,
    appended: () => {
      outage.ok();
      noWorker?.appended();
    },
    appendFailed: (err) => {
      if (isFeteError(err) && err.code === 'STORE_UNAVAILABLE') outage.failed('emit', err.cause ?? err);
    },
  });
  // Non-durable listeners of live events run here, in the emitting process, as after a commit.
  live = liveParts(
    o.topics,
    store,
    channel,
    (e, opts) => {
      const ls = registry.inlineFor(e);
      if (ls.length > 0) inline.dispatch(e, ls, opts);
    },
    { settleMs: o.retention.graceMs, keepMs: o.retention.removalsMs, pruneEveryMs: o.retention.intervalMs },
    () => log.highWater(),
  );
  const memoryHead = () => (log instanceof MemoryLog ? log.headSeq : undefined);
  const operations = new Operations({ store, catalog: o.topics, registry, inline, memoryHead, orphanAfterMs: o.listeners.orphanAfterMs });
  const commands = new CommandBus(
    {
      topics: o.topics,
      store,
      roles: o.roles,
      transaction: (fn) => emits.transaction((tx, appendAdmitted, q) => fn(tx as unknown as FeteTransaction<TopicCatalog>, appendAdmitted, q?.deferToCommit?.bind(q))),
      admit: (t, p, opts) => emits.build(t, p, opts),
      assertOpen: () => life.assertOpen(),
      tenantOf: (p) => o.security.tenantOf(p),
      failed: (f) => logs.commandFailed(f),
    },
    o.commands,
  );
  const feteLog = createFeteLog(log, {
    assertOpen: () => life.assertOpen(),
    stamp: (envelope) => stampAdmitted(o.topics, contexts, envelope),
    append: (envelopes) => emits.route(envelopes),
  });
  const admin = new ListenerControl({ life, registry, listeners, dispatcher, inline, scheduler, store });
  return {
    o, store, log, contexts, registry, inline, dispatcher, listeners, heartbeat, retention, noWorker, scheduler, writer, live,
    emits, admin, commands, operations, outcomes, doors: new Doors({ log: feteLog, topics: o.topics, bus }), logs, feteLog, presence, bus,
  };
}
