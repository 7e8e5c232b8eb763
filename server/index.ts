// PGlite's declarations use the Emscripten types without referencing them: TypeScript 5 finds them
// among the automatic @types, TypeScript 7 (whose `types` defaults to none) only through this
// reference, kept in the emitted index.d.ts for consumers (fete depends on @types/emscripten).
/// <reference types="emscripten" preserve="true" />
// fete/server: the public exports of the server. Internals (store queries, dispatcher classes)
// are not exported; the driver interface is, for custom stores and tests.
export { createFete, type Fete, type FollowOptions } from './fete.js';
export type { FollowEvents, FollowGap, FollowItem } from './log/follow.js';
export type { LatestTopicsOf, ListenerAdmin, ListenerOptionsArg, RetireOptions, SubjectParams } from './fete-api.js';
export type { ClearLatestResult } from './live/latest-clears.js';
export type { RetireResult } from './store/listener-queries.js';
export type { WaitIdleOptions } from './wait-idle.js';
export type { CatchUp, ScheduleOptions, ScheduleStats, ScheduleTick } from './schedule/scheduler.js';
export type { AdaptiveSpec, CronSpec, EverySpec, ScheduleSpec } from './schedule/schedule-spec.js';
export {
  DEFAULT_DATA_DIR,
  type FeteOptions,
  type ListenerOptions,
  type ListenersOptions,
  type Role,
  type StoreOption,
  type WorkerOptions,
} from './options.js';
export type {
  CommandContext,
  CommandHandler,
  CommandOptions,
  ExecuteOptions,
  HandleOptions,
  QueryHandler,
  RequestContext,
  RequestHandler,
} from './commands/types.js';
export type { RecentRequest, RequestCounts, RequestOutcome } from './commands/command-metrics.js';
export type { FeteLogger } from './logger.js';
export type { BusOptions, BusState, BusStatus, NatsConnectionOptions, NatsOption } from './bus/event-bus.js';
export { backoffDelay, type Backoff, type BackoffOptions } from './dispatch/backoff.js';
export type { ContextCodec, ContextRegistry } from './context/context-registry.js';
export { currentPrincipal, runAs, type Principal } from './context/principal.js';
export { currentTraceparent, nextTraceparent, withTraceparent } from './context/trace.js';
export type { Auth, AuthRequest, Authorize, Door, SecurityOptions } from './security/security-options.js';
export { currentTenant, runInTenant, DEFAULT_TENANT } from './security/tenant.js';
export type { Driver, DriverKind, QueryResult, Queryable, TxHandle } from './store/driver.js';
export type {
  AppendOutcome,
  BacklogCounts,
  DeadLetter,
  DeadLetterQuery,
  DispatcherState,
  DispatchMode,
  EmitFn,
  EmitItem,
  EmitOptions,
  EmitResult,
  EmitResultOf,
  EmitResultsOf,
  DeferredEmitFn,
  FeteLog,
  FeteStats,
  FeteTransaction,
  Handler,
  LatestResult,
  ListenerContext,
  ListenerStats,
  LoggedResult,
  PatternHandler,
  StopOptions,
  TopicHandler,
  TopicStats,
  TxQuery,
  VolatileResult,
  WorkerStatus,
} from './types.js';
export type { ListenerOutcomes, OutcomeCounts } from './delivery-outcomes.js';
export type { PruneReport, RetentionOptions } from './retention-job.js';
export type {
  AttachOptions,
  ClientEmitContext,
  FanoutAuth,
  FanoutAuthorize,
  FanoutHandle,
  FanoutPrincipal,
  FanoutStats,
} from './fanout/types.js';
export {
  createExpressMiddleware,
  type ExpressOptions,
  type FeteRouter,
  type HttpTarget,
  type InspectorOptions,
  type RequestGuard,
  type StreamOptions,
} from './http/index.js';
export type { PresenceOptions } from './presence/presence-options.js';
export type { PresenceQueryOptions } from './presence/presence-service.js';
export type { PresenceObserver } from './presence/presence-observer.js';
