// createFete, the composition root: opens (and migrates) the store and the links between nodes,
// wires the parts around the event log (assemble.ts) and implements Fete<C, D> by delegating each
// call to the part that owns it: listeners (listener-admin.ts), emits and transactions
// (transactions.ts), commands (commands/), the doors (fanout/, http/), the operator's calls
// (operations.ts) and start/stop (lifecycle.ts). See DESIGN.md "Layout".
import { checkHandlerSql } from './store/handler-sql.js';
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { type AnyTopic, type CheckedPattern, type Envelope, FeteError, type InputOf, type MatchingTopics, type TopicCatalog, type TopicsOf, subjectOf, topicByName, validatePattern } from '../shared/index.js';
import type { ClearLatestResult } from './live/latest-clears.js';
import type { LiveHub } from './live/live-hub.js';
import type { Contexts } from './context/context-registry.js';
import type { Security } from './security/security.js';
import { currentTenant, validTenant, tenantOf } from './security/tenant.js';
import type { ScheduleHandler, ScheduleOptions, ScheduleTick } from './schedule/scheduler.js';
import type { ScheduleSpec } from './schedule/schedule-spec.js';
import type { WaitIdleOptions } from './wait-idle.js';
import type { EventBus } from './bus/event-bus.js';
import { type Links, openLinks } from './bus/open-bus.js';
import { attachFanout } from './fanout/attach.js';
import type { AttachOptions, FanoutHandle, FanoutStats } from './fanout/types.js';
import type { NodeTail, NodeTailOptions } from './fanout/node-tail.js';
import type { Fete, FollowOptions, ListenerAdmin, ListenerOptionsArg } from './fete-api.js';
import { type ExpressOptions, type FeteRouter, createExpressMiddleware } from './http/index.js';
import type { EventLog } from './log/event-log.js';
import { type FollowItem, followPattern } from './log/follow.js';
import { openLog } from './log/open-log.js';
import type { PresenceService, PresenceQueryOptions } from './presence/presence-service.js';
import type { PresenceObserver } from './presence/presence-observer.js';
import type { PresenceChange, PresenceMember } from '../shared/index.js';
import type { AnyCommand, AnyQuery, AnyRequest, RequestInputOf, RequestOutputOf } from '../shared/index.js';
import type { CommandBus } from './commands/command-bus.js';
import type { ExecuteOptions, HandleOptions, RequestHandler } from './commands/types.js';
import { probeWrite } from './store/write-probe.js';
import { type FeteOptions, type ListenerOptions, type ResolvedOptions, resolveOptions } from './options.js';
import type { AnyHandler } from './registry.js';
import type { PruneReport } from './retention-job.js';
import type { Store } from './store/open-store.js';
import type { DeadLetter, DeadLetterQuery, EmitItem, EmitOptions, EmitResultOf, EmitResultsOf, FeteLog, FeteStats } from './types.js';
import type { DispatchMode, FeteTransaction, ListenerContext, PatternHandler, StopOptions, TopicHandler, WorkerStatus } from './types.js';
import { type Parts, assemble } from './assemble.js';
import { Lifecycle } from './lifecycle.js';

export type { Fete, FollowOptions, ListenerAdmin, RetireOptions } from './fete-api.js';

/** Opens the store (unless `dispatch: 'inline'`), applies migrations and returns the server. */
export async function createFete<const C extends TopicCatalog, const D extends DispatchMode = 'durable'>(
  options: FeteOptions<C> & { dispatch?: D },
): Promise<Fete<C, D>> {
  const resolved = resolveOptions(options);
  const { store, log } = await openLog(resolved);
  const links = await openLinks(resolved, log, store, options.presence);
  return new FeteServer<C, D>(resolved, store, log, links);
}

class FeteServer<C extends TopicCatalog, D extends DispatchMode> implements Fete<C, D> {
  readonly topics: C;
  readonly contexts: Contexts;
  readonly log: FeteLog;
  readonly commands: CommandBus;
  readonly security: Security;
  readonly live: LiveHub;
  /** The NATS bus between web nodes (`bus` option), if any. */
  readonly bus: EventBus | undefined;
  readonly listeners: ListenerAdmin;
  readonly presenceService: PresenceService;
  readonly #life = new Lifecycle();
  readonly #p: Parts<C>;

  constructor(o: ResolvedOptions, store: Store | undefined, log: EventLog, links: Links) {
    const p = (this.#p = assemble<C>(o, store, log, links, this.#life));
    this.topics = o.topics as C;
    this.contexts = p.contexts;
    this.security = o.security;
    this.bus = p.bus;
    this.presenceService = p.presence.service;
    this.live = p.live.hub;
    this.commands = p.commands;
    this.log = p.feteLog;
    this.listeners = { retire: (name, opts) => p.admin.retire(name, opts) };
  }

  on<T extends TopicsOf<C>>(topic: T, name: string, handler: TopicHandler<C, T, D>, ...options: ListenerOptionsArg<T, D>): void;
  on<const P extends string>(pattern: CheckedPattern<C, P>, name: string, handler: PatternHandler<C, P, D>, ...options: ListenerOptionsArg<MatchingTopics<C, P>, D>): void;
  on(target: AnyTopic | string, name: string, handler: (payload: never, ctx: never) => unknown, options?: ListenerOptions<never>): void {
    // The overloads above type the handler and orderBy per topic or pattern; the registry runs any.
    this.#p.admin.on(target, name, handler as AnyHandler, options as ListenerOptions | undefined);
  }

  schedule<T extends TopicsOf<C>>(
    name: string,
    spec: ScheduleSpec,
    handlerOrEmit: ((tick: ScheduleTick, ctx: ListenerContext<C, Envelope, D>) => unknown) | { topic: T; payload: InputOf<T> | ((tick: Date) => InputOf<T>) },
    options: ScheduleOptions = {},
  ): void {
    // The signature types the handler's context per catalogue and mode; the scheduler runs any.
    this.#p.admin.schedule(name, spec, handlerOrEmit as ScheduleHandler | { topic: unknown; payload: unknown }, options);
  }

  async off(target: AnyTopic | string, name: string): Promise<boolean> {
    return this.#p.admin.off(target, name);
  }

  async skip(deliveryId: number): Promise<void> {
    return this.#p.admin.skip(deliveryId);
  }

  async waitIdle(options: WaitIdleOptions = {}): Promise<void> {
    return this.#life.waitIdle(this.#p, options);
  }

  emit<T extends TopicsOf<C>>(topic: T, payload: InputOf<T>, options?: EmitOptions): Promise<EmitResultOf<T>> {
    // The route gives each topic's result by its delivery (ingress/emit-route.ts).
    return this.#p.emits.emit([{ topic, payload, ...options }]).then((r) => r[0] as EmitResultOf<T>);
  }

  async emitMany<const I extends ReadonlyArray<EmitItem<C>>>(items: I): Promise<EmitResultsOf<I>> {
    if (!Array.isArray(items)) throw new FeteError('INVALID_OPTIONS', 'emitMany takes an array of { topic, payload, ...options }');
    return (await this.#p.emits.emit(items)) as EmitResultsOf<I>;
  }

  async transaction<R>(fn: (tx: FeteTransaction<C>) => Promise<R>): Promise<R> {
    // The caller's statements are checked (store/handler-sql.ts): fete ends the transaction itself.
    return this.#p.emits.transaction((tx) => fn({ ...tx, query: (sql, params) => (checkHandlerSql(sql), tx.query(sql, params)) }));
  }

  handle<R extends AnyRequest>(request: R, handler: RequestHandler<C, R>, options?: HandleOptions): void {
    this.#life.assertAccepting();
    this.commands.handle(request, handler, options);
  }

  execute<K extends AnyCommand>(command: K, input: RequestInputOf<K>, options?: ExecuteOptions): Promise<RequestOutputOf<K>> {
    return this.#life.track(this.commands.serverCall('command', command, input, options)) as Promise<RequestOutputOf<K>>;
  }

  query<Q extends AnyQuery>(query: Q, input: RequestInputOf<Q>, options?: Omit<ExecuteOptions, 'id'>): Promise<RequestOutputOf<Q>> {
    return this.#life.track(this.commands.serverCall('query', query, input, options)) as Promise<RequestOutputOf<Q>>;
  }

  commandResult<K extends AnyCommand>(command: K, id: string, options?: Omit<ExecuteOptions, 'id'>): Promise<RequestOutputOf<K>>;
  commandResult(id: string, options?: Omit<ExecuteOptions, 'id'>): Promise<unknown>;
  commandResult(a: unknown, b?: unknown, c?: unknown): Promise<unknown> {
    const [command, id, options] = typeof a === 'string' ? [undefined, a, b] : [a as AnyCommand, b, c];
    return this.#life.track(this.commands.serverResult(id, options as Omit<ExecuteOptions, 'id'> | undefined, command));
  }

  follow(pattern: string, options: FollowOptions = {}): AsyncIterable<FollowItem> {
    this.#life.assertOpen();
    const { tenant } = options;
    if (tenant === undefined) return followPattern(this.#p.log, pattern, options);
    const only = validTenant(tenant, 'follow: tenant');
    return followPattern(this.#p.log, pattern, { ...options, visible: (e) => tenantOf(e) === only });
  }

  async latest(pattern: string, options: { tenant?: string } = {}): Promise<Envelope[]> {
    this.#life.assertOpen();
    validatePattern(pattern);
    const tenant = options.tenant === undefined ? (currentTenant() ?? '') : validTenant(options.tenant, 'latest: tenant');
    return this.#life.track(this.live.values(pattern, tenant));
  }

  async clearLatest(topic: AnyTopic, params: Readonly<Record<string, string | number>>, options: { tenant?: string } = {}): Promise<ClearLatestResult> {
    this.#life.assertOpen();
    const declared = topic && typeof topic === 'object' && typeof topic.name === 'string' ? topicByName(this.topics, topic.name) : undefined;
    if (declared === undefined || declared.delivery !== 'latest')
      throw new FeteError('INVALID_OPTIONS', `clearLatest: ${declared === undefined ? 'not a topic of the catalogue' : `topic "${declared.name}" has delivery '${declared.delivery}'; only 'latest' topics keep a value to clear`}`);
    const subject = subjectOf(declared, params);
    const tenant = options.tenant === undefined ? (currentTenant() ?? '') : validTenant(options.tenant, 'clearLatest: tenant');
    return this.#life.track(this.#p.live.clears.clear(declared, subject, tenant));
  }

  browserTail(options: NodeTailOptions): NodeTail {
    return this.#p.doors.tail(options);
  }

  attach<P = unknown>(httpServer: HttpServer | HttpsServer, options?: AttachOptions<P>): FanoutHandle {
    this.#life.assertAccepting();
    return this.#p.doors.fanout(attachFanout(this, httpServer, options, this.#p.logs));
  }

  express<P = unknown>(options?: ExpressOptions<P>): FeteRouter {
    return this.#p.doors.router(createExpressMiddleware(this, options, this.#p.logs));
  }

  async presence(pattern: string, options?: PresenceQueryOptions): Promise<PresenceMember[]> {
    this.#life.assertOpen();
    return this.presenceService.members(pattern, options);
  }

  observePresence(pattern: string, options?: PresenceQueryOptions & { onChange?: (change: PresenceChange) => void }): PresenceObserver {
    this.#life.assertOpen();
    return this.presenceService.observe(pattern, options);
  }

  async prune(): Promise<PruneReport[]> {
    this.#life.assertOpen();
    const run = async (): Promise<PruneReport[]> => {
      const reports = this.#p.retention ? await this.#p.retention.run() : [];
      const removals = await this.#p.live.clears.prune();
      for (const [topic, deleted] of removals) reports.push({ topic, deleted, prunedThrough: undefined });
      return reports;
    };
    return this.#life.track(run());
  }

  workerStatus(): WorkerStatus {
    return this.#p.outcomes.status(this.#life.dispatcherState, this.#p.registry.all(), this.#life.started);
  }

  fanoutStats(): FanoutStats {
    return this.#p.doors.fanoutStats();
  }

  async start(): Promise<void> {
    return this.#life.start(this.#p);
  }

  async stop(options: StopOptions = {}): Promise<void> {
    return this.#life.stop(this.#p, options.drain ?? true);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async stats(): Promise<FeteStats> {
    this.#life.assertOpen();
    const [stats, schedules] = await Promise.all([this.#p.operations.stats(), this.#p.scheduler.stats()]);
    return { ...stats, schedules, ...(this.#p.bus ? { bus: this.#p.bus.status() } : {}) };
  }

  async checkWrite(): Promise<void> {
    this.#life.assertOpen();
    if (this.#p.store) await probeWrite(this.#p.store);
  }

  async deadLetters(query?: DeadLetterQuery): Promise<DeadLetter[]> {
    this.#life.assertOpen();
    return this.#p.operations.deadLetters(query);
  }

  async retry(deliveryId: number): Promise<void> {
    this.#life.assertOpen();
    return this.#p.operations.retry(deliveryId);
  }
}
