// createFete's options: one interface, a `@default` on every field, and the one place where the
// defaults are merged (`resolveOptions`). Listener options have their own defaults, merged per
// listener over `listenerDefaults`.
import type { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';
import { DEFAULT_MAX_ENVELOPE_BYTES, type Envelope, FeteError, type TopicCatalog } from '../shared/index.js';
import type { BusOptions, ResolvedBusOptions } from './bus/event-bus.js';
import { busRoot } from './bus/nats-subjects.js';
import { type Backoff, DEFAULT_BACKOFF } from './dispatch/backoff.js';
import type { RetentionOptions } from './retention-job.js';
import { resolveCommandOptions } from './commands/command-options.js';
import type { CommandOptions, ResolvedCommandOptions } from './commands/types.js';
import { type FeteLogger, type LoggerOption, resolveLogger } from './logger.js';
import { type Security, resolveSecurity } from './security/security.js';
import type { SecurityOptions } from './security/security-options.js';
import type { PresenceOptions } from './presence/presence-options.js';
import type { Driver } from './store/driver.js';

export type Role = 'web' | 'worker';

/**
 * Where the log and the delivery queue live.
 * - omitted: PGlite in the data directory `./.fete/data`
 * - `'memory'`: PGlite in memory (gone when the process ends)
 * - `{ pglite: dir }`: PGlite in that directory (`'memory://'`: in memory, as `'memory'`; other
 *   PGlite URLs such as `idb://` are INVALID_OPTIONS); `{ pglite: instance }`: an open PGlite the app
 *   also uses (its own tables then share transactions with fete's, see `ctx.tx`). fete's own
 *   PGlite (omitted, `'memory'`, a directory) runs in a worker thread; an app's instance stays on
 *   the main thread, where its queries block the event loop while they run.
 * - a `postgres://` / `postgresql://` URL, or a `pg.Pool` the app already has
 * - `{ driver }`: any implementation of the driver interface
 */
export type StoreOption = 'memory' | string | pg.Pool | { pglite: string | PGlite } | { driver: Driver };

/** Options of `fete.on`. `P` is the payload type of the listener's topics (`orderBy` gets it). */
export interface ListenerOptions<P = unknown> {
  /** Attempts after the first one fails: `retries: 5` means at most 6 attempts. @default 8 */
  retries?: number;
  /** Delay between attempts. @default { initialMs: 1000, factor: 2, maxMs: 300_000, jitter: 0.5 } */
  backoff?: Backoff;
  /** One attempt may take this long; then `ctx.signal` aborts and the attempt fails. @default 30_000 */
  timeoutMs?: number;
  /** Attempts of this listener running at once in this process. @default 10 */
  concurrency?: number;
  /** Deliveries claimed ahead of free slots (durable only): more throughput, more leases held
   * by this process. @default adaptive: about 50 ms of this listener's work at its measured
   * attempt duration, at least `concurrency`, at most `worker.claimBatchSize` */
  prefetch?: number;
  /** Durable listeners get deliveries in the store; `false` runs in the emitting process only,
   * after commit, with in-memory retries. @default true (false under `dispatch: 'inline'`) */
  durable?: boolean;
  /** The ordering key of an event for this listener: its deliveries with the same key run one at
   * a time, in seq order, across processes (different keys in parallel); a dead letter blocks
   * its key until `fete.retry` or `fete.skip`. Computed by the appending process, so register
   * the listener in every process that emits its topics (an emit from a process that does not
   * know it falls back to the emit's `orderKey`). `undefined` from the function: no key.
   * @default no key (an emit's `orderKey` still applies) */
  orderBy?: (payload: P, envelope: Envelope<P>) => string | number | undefined;
  /** The name of a listener (same target) this one takes over: its deliveries, pending, running
   * and dead, become this listener's and the old one is retired. For a rename. @default none */
  replaces?: string;
}

/** The lifecycle of durable listeners (listener-heartbeat.ts). */
export interface ListenersOptions {
  /** How often this process refreshes `seen_at` of the durable listeners it registers. @default 10_000 */
  heartbeatMs?: number;
  /** A durable listener no process has refreshed for this long is orphaned: shown as such by
   * stats(), /health, /metrics and the inspector, and (unless `orphanRetention: 'pin'`) it no
   * longer keeps events from being pruned. @default 60_000 */
  orphanAfterMs?: number;
  /** What retention does with events an orphaned listener still owes: 'release' prunes them per
   * the topic's rule and drops the orphan's deliveries of them with them; 'pin' keeps them until
   * the listener returns or is retired. @default 'release' */
  orphanRetention?: 'release' | 'pin';
}

export interface WorkerOptions {
  /** How long a claim is valid without a heartbeat. A crashed worker's deliveries run again about
   * this long after its last heartbeat. @default 10_000 */
  leaseMs?: number;
  /** How often leases of held deliveries are extended. @default leaseMs / 5 */
  heartbeatMs?: number;
  /** How often expired leases are looked for (0: never). On PGlite too: a lease also expires in
   * a live process (an event-loop stall, a completion that could not be written); a dead
   * predecessor's work is re-offered at start besides. @default 1000 */
  rescueIntervalMs?: number;
  /** Claim even without a NOTIFY this often (missed notifications, due retries). @default 1000 */
  pollIntervalMs?: number;
  /** Most deliveries one claim query takes (and most held ahead by the adaptive prefetch).
   * @default 500 on PostgreSQL (a claim costs ~1 ms plus ~11 us a row there: draining no-op
   * handlers, 200 gave ~55,000/s and 500 ~67,000/s); 1000 on PGlite, where every query is planned
   * afresh (about 1.5 ms for the claim) and no other process competes for the work */
  claimBatchSize?: number;
  /** Most completions written by one statement (group commit). @default 1000 */
  completionBatchSize?: number;
  /** A single emit whose durable listener runs idle in this same process claims that delivery in
   * its own append and starts it after commit, skipping the NOTIFY and claim round trips (about
   * half the emit-to-handler latency). Other processes' workers are unaffected. @default true */
  localTake?: boolean;
}

export interface FeteOptions<C extends TopicCatalog = TopicCatalog> {
  /** The topic catalogue (`defineTopics`). Emits and listeners are checked against it. */
  topics: C;
  /** @default PGlite in `./.fete/data` (see StoreOption) */
  store?: StoreOption;
  /** SQL schema of fete's tables; one store per schema (tests use a fresh one each). @default 'fete' */
  schema?: string;
  /** What `start()` runs in this process. @default ['web', 'worker'] */
  roles?: readonly Role[];
  /** `'durable'`: through the store. `'inline'`: listeners run in process, no store at all
   * (tests, ephemeral apps). @default 'durable' */
  dispatch?: 'durable' | 'inline';
  /** Defaults for every `fete.on`. @default see ListenerOptions */
  listenerDefaults?: ListenerOptions;
  /** Lease, heartbeat, rescue and polling intervals and batch sizes. @default see WorkerOptions */
  worker?: WorkerOptions;
  /** Random source in [0, 1) for backoff jitter (tests make it deterministic). @default Math.random */
  random?: () => number;
  /** The pruning of topics that declare `retention` (worker role only), and of removals of latest
   * values (every process). @default see RetentionOptions */
  retention?: RetentionOptions;
  /** Largest event a server emit may make (`fete.emit`, `emitMany`, `tx.emit`, `ctx.emit`), in
   * UTF-8 bytes of its encoded envelope; beyond it the emit fails with TOO_LARGE. Keep it at or
   * below what receivers accept (the client's `maxEnvelopeBytes`, the fanout's `maxPayloadBytes`),
   * or they could not decode the event. @default 1 MiB (DEFAULT_MAX_ENVELOPE_BYTES) */
  maxEnvelopeBytes?: number;
  /** Commands and queries: result window, deadlines (their tenant is `security.tenant`). @default see CommandOptions */
  commands?: CommandOptions;
  /** Heartbeats and orphan detection of durable listeners. @default see ListenersOptions */
  listeners?: ListenersOptions;
  /** Where failed attempts, dead letters, refused connections, store outages and recoveries, and
   * deliveries waiting with no worker are reported: a pino-compatible logger (`warn(fields, msg)`),
   * or `false` for none. Each kind is rate-limited (a burst of 10, then 1 a second).
   * @default warnings and errors to stderr, one line each */
  logger?: FeteLogger | false;
  /** Authentication, authorization and tenants, for every door (`attach` and `express` use it).
   * @default no auth: every Socket.IO connection and HTTP request is refused (see SecurityOptions) */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  security?: SecurityOptions<any>;
  /** Presence heartbeats, expiry and limits (topics declare `presence: true`; members are named by
   * `security.publicId`). @default see PresenceOptions */
  presence?: PresenceOptions;
  /** NATS as the live bus between web nodes: each process publishes its commits there, and each
   * web node receives only the events its sockets subscribed to instead of tailing the log itself
   * (see bus/nats-bus.ts). Needs a shared PostgreSQL store and the optional peer dependency
   * @nats-io/transport-node. `{ nats: 'nats://127.0.0.1:4222' }` or `{ nats: { servers, ... } }`.
   * NATS unreachable at start (or silent for `bus.connectTimeoutMs`, default 2000) does not fail
   * createFete unless `bus.required`: the node serves on the PostgreSQL fallback and moves onto
   * NATS when it answers (`fete.stats().bus` says where).
   * @default none: every web process tails the log (LISTEN/NOTIFY and a read per wake-up) */
  bus?: BusOptions;
}

export interface ResolvedListenerOptions {
  retries: number;
  backoff: Backoff;
  timeoutMs: number;
  concurrency: number;
  /** Undefined: adaptive (see ListenerOptions.prefetch). */
  prefetch: number | undefined;
  durable: boolean;
  orderBy: ListenerOptions['orderBy'];
  replaces: string | undefined;
}

export interface ResolvedOptions<C extends TopicCatalog = TopicCatalog> {
  topics: C;
  store: StoreOption;
  schema: string;
  roles: readonly Role[];
  dispatch: 'durable' | 'inline';
  listenerDefaults: ListenerOptions;
  worker: Required<WorkerOptions>;
  random: () => number;
  retention: Required<RetentionOptions>;
  maxEnvelopeBytes: number;
  commands: ResolvedCommandOptions;
  listeners: Required<ListenersOptions>;
  logger: FeteLogger;
  security: Security;
  bus: ResolvedBusOptions | undefined;
}

export const DEFAULT_DATA_DIR = './.fete/data';

function positive(name: string, v: number, min = 1): number {
  if (!Number.isFinite(v) || v < min) throw new FeteError('INVALID_OPTIONS', `${name} must be a number >= ${min}, got ${v}`);
  return v;
}

/** Which engine a store option opens, without opening it. */
export function storeKind(store: StoreOption): 'pglite' | 'postgres' {
  if (store === 'memory') return 'pglite';
  if (typeof store === 'string') return 'postgres';
  if ('pglite' in store) return 'pglite';
  if ('driver' in store) return store.driver.kind;
  return 'postgres';
}

export function resolveOptions<C extends TopicCatalog>(o: FeteOptions<C>): ResolvedOptions<C> {
  if (!o || typeof o.topics !== 'object' || o.topics === null)
    throw new FeteError('INVALID_OPTIONS', 'createFete needs { topics } (a defineTopics catalogue)');
  const roles = o.roles ?? ['web', 'worker'];
  for (const r of roles) if (r !== 'web' && r !== 'worker') throw new FeteError('INVALID_OPTIONS', `unknown role ${JSON.stringify(r)}`);
  const dispatch = o.dispatch ?? 'durable';
  if (dispatch !== 'durable' && dispatch !== 'inline') throw new FeteError('INVALID_OPTIONS', `dispatch must be 'durable' or 'inline'`);
  const store = o.store ?? { pglite: DEFAULT_DATA_DIR };
  const driverKind = storeKind(store);
  const w = o.worker ?? {};
  const leaseMs = positive('worker.leaseMs', w.leaseMs ?? 10_000, 10);
  const worker: Required<WorkerOptions> = {
    leaseMs,
    heartbeatMs: positive('worker.heartbeatMs', w.heartbeatMs ?? Math.max(5, Math.floor(leaseMs / 5)), 5),
    rescueIntervalMs: positive('worker.rescueIntervalMs', w.rescueIntervalMs ?? 1000, 0),
    pollIntervalMs: positive('worker.pollIntervalMs', w.pollIntervalMs ?? 1000, 5),
    claimBatchSize: positive('worker.claimBatchSize', w.claimBatchSize ?? (driverKind === 'pglite' ? 1000 : 500)),
    completionBatchSize: positive('worker.completionBatchSize', w.completionBatchSize ?? 1000),
    localTake: w.localTake ?? true,
  };
  if (worker.heartbeatMs >= worker.leaseMs)
    throw new FeteError('INVALID_OPTIONS', `worker.heartbeatMs (${worker.heartbeatMs}) must be shorter than worker.leaseMs (${worker.leaseMs})`);
  const r = o.retention ?? {};
  const retention: Required<RetentionOptions> = {
    intervalMs: positive('retention.intervalMs', r.intervalMs ?? 60_000, 0),
    graceMs: positive('retention.graceMs', r.graceMs ?? 10_000, 0),
    batchSize: positive('retention.batchSize', r.batchSize ?? 1000),
    removalsMs: positive('retention.removalsMs', r.removalsMs ?? 86_400_000, 0),
  };
  const lo = o.listeners ?? {};
  const orphanRetention = lo.orphanRetention ?? 'release';
  if (orphanRetention !== 'release' && orphanRetention !== 'pin')
    throw new FeteError('INVALID_OPTIONS', `listeners.orphanRetention must be 'release' or 'pin'`);
  const listeners: Required<ListenersOptions> = {
    heartbeatMs: positive('listeners.heartbeatMs', lo.heartbeatMs ?? 10_000, 10),
    orphanAfterMs: positive('listeners.orphanAfterMs', lo.orphanAfterMs ?? 60_000, 10),
    orphanRetention,
  };
  if (listeners.heartbeatMs >= listeners.orphanAfterMs)
    throw new FeteError('INVALID_OPTIONS', `listeners.heartbeatMs (${listeners.heartbeatMs}) must be shorter than listeners.orphanAfterMs (${listeners.orphanAfterMs})`);
  return {
    listeners,
    topics: o.topics,
    store,
    schema: o.schema ?? 'fete',
    roles,
    dispatch,
    listenerDefaults: o.listenerDefaults ?? {},
    worker,
    random: o.random ?? Math.random,
    retention,
    maxEnvelopeBytes: positive('maxEnvelopeBytes', o.maxEnvelopeBytes ?? DEFAULT_MAX_ENVELOPE_BYTES),
    commands: resolveCommandOptions(o.commands),
    logger: resolveLogger(o.logger as LoggerOption),
    security: resolveSecurity(o.security),
    bus: resolveBus(o.bus, dispatch),
  };
}

function flag(name: string, v: unknown): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new FeteError('INVALID_OPTIONS', `${name} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function resolveBus(b: BusOptions | undefined, dispatch: 'durable' | 'inline'): ResolvedBusOptions | undefined {
  if (b === undefined) return undefined;
  if (typeof b !== 'object' || b === null || b.nats === undefined || b.nats === null)
    throw new FeteError('INVALID_OPTIONS', "bus must be { nats: 'nats://host:4222' } or { nats: { servers, ...connection options } }");
  if (dispatch === 'inline') throw new FeteError('INVALID_OPTIONS', "bus needs the store's log: dispatch 'inline' keeps its log in this process only");
  const prefix = b.prefix ?? 'fete';
  busRoot(prefix, ''); // INVALID_OPTIONS for a prefix NATS would split or match
  return {
    nats: b.nats,
    prefix,
    pollIntervalMs: positive('bus.pollIntervalMs', b.pollIntervalMs ?? 5000, 5),
    gapReadDelayMs: positive('bus.gapReadDelayMs', b.gapReadDelayMs ?? 50, 0),
    required: flag('bus.required', b.required),
    retryMaxMs: positive('bus.retryMaxMs', b.retryMaxMs ?? 5000, 1),
    connectTimeoutMs: positive('bus.connectTimeoutMs', b.connectTimeoutMs ?? 2000, 1),
  };
}

export function resolveListenerOptions(defaults: ListenerOptions, given: ListenerOptions = {}, dispatch: 'durable' | 'inline'): ResolvedListenerOptions {
  const m = { ...defaults, ...given };
  const concurrency = positive('concurrency', m.concurrency ?? 10);
  const out: ResolvedListenerOptions = {
    retries: positive('retries', m.retries ?? 8, 0),
    backoff: m.backoff ?? DEFAULT_BACKOFF,
    timeoutMs: positive('timeoutMs', m.timeoutMs ?? 30_000),
    concurrency,
    prefetch: m.prefetch === undefined ? undefined : positive('prefetch', m.prefetch, 0),
    durable: dispatch === 'inline' ? false : (m.durable ?? true),
    orderBy: given.orderBy,
    replaces: given.replaces,
  };
  if (out.orderBy !== undefined && typeof out.orderBy !== 'function') throw new FeteError('INVALID_OPTIONS', 'orderBy must be a function (payload, envelope) => key');
  if (out.replaces !== undefined && (typeof out.replaces !== 'string' || out.replaces.length === 0 || out.replaces.length > 200))
    throw new FeteError('INVALID_OPTIONS', 'replaces must be a listener name (1 to 200 characters)');
  return out;
}
