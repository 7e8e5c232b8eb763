// Shared by the processes of the `scale` benchmark (bench/scenarios/scale.ts): the catalogue, the
// implementations compared, the IPC messages, the clock. Every process stamps times with `now()`
// (wall clock, sub-millisecond), so an emit time from the emitter compares with a receipt time in
// the clients process.
import { createRequire } from 'node:module';
import type { FeteOptions } from '../../server/index.js';
import { defineTopic, defineTopics } from '../../shared/index.js';

export const topics = defineTopics({
  orderStatus: defineTopic('orders.{orderId}.status', { kind: 'presentation' }),
  // Never subscribed by anyone: a node over NATS skips these on the commit notice's word.
  audit: defineTopic('audit.{n}', { kind: 'domain' }),
});

/**
 * - `pg-tail`: fete web nodes on PostgreSQL, each tailing the log (LISTEN/NOTIFY + a read per wake-up).
 * - `nats`: fete web nodes on PostgreSQL with `bus: { nats }` (events over NATS, the log only on a gap).
 * - `redis`: plain Socket.IO nodes with @socket.io/redis-adapter: the same fanout without durability.
 * - `redis-pg`: the same, the emitter INSERTing each event (one row, autocommit) on PostgreSQL before
 *   it broadcasts: the durable write an app hand-wires before `emit`, with no resume or gap repair.
 */
export type Impl = 'pg-tail' | 'nats' | 'redis' | 'redis-pg';

/** Whether `impl` is plain Socket.IO on the Redis adapter (its packets are the envelope itself). */
export const isRedis = (impl: Impl): boolean => impl === 'redis' || impl === 'redis-pg';

/** The options of a fete process of the benchmark (`web` node or `worker` emitter): PostgreSQL,
 * anonymous subscribers, and the NATS bus for `nats`. */
export function feteOptions(impl: Impl, role: 'web' | 'worker', dbUrl: string, schema: string, natsUrl: string): FeteOptions<typeof topics> {
  return {
    topics,
    store: dbUrl,
    schema,
    roles: [role],
    security: { auth: 'anonymous' },
    ...(impl === 'nats' ? { bus: { nats: natsUrl, prefix: 'fetebench' } } : {}),
  };
}

/** Patterns of the fete subscribers, by client index: all match every `orders.<id>.status`. */
export const PATTERNS = ['orders.*.status', 'orders.>', 'orders.*.*'] as const;

export interface StatusPayload {
  orderId: string;
  sentAt: number;
}

export function now(): number {
  return performance.timeOrigin + performance.now();
}

/** What a process used so far: CPU time in ms (user + system), queries sent to PostgreSQL. */
export interface Usage {
  cpuMs: number;
  queries: number;
}

let queries = 0;
/**
 * Counts every query this process sends to PostgreSQL, in the node-postgres that fete's driver
 * loads (resolved from server/, so the same module instance): pool queries, transactions' statements,
 * LISTEN. pg_stat_database cannot say this per benchmark phase: a backend flushes its counters at
 * most once a second while busy, and up to 10 s later once idle.
 */
export function countPgQueries(): void {
  const pg = createRequire(new URL('../../server/index.ts', import.meta.url))('pg') as { Client: { prototype: { query: (...a: unknown[]) => unknown } } };
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: unknown, ...args: unknown[]) {
    queries++;
    return original.apply(this, args);
  };
}

export function usage(): Usage {
  const u = process.cpuUsage();
  return { cpuMs: (u.user + u.system) / 1000, queries };
}

export type NodeCommand = { type: 'usage' } | { type: 'stop' };
export type NodeReply = { type: 'ready'; port: number } | { type: 'usage'; usage: Usage } | { type: 'error'; message: string };

export type EmitterCommand = { type: 'rate'; perSecond: number; events: number; auditEvery: number } | { type: 'usage' } | { type: 'stop' };
export type EmitterReply =
  | { type: 'ready' }
  /** `emitCallMs`: how long an emit call took to resolve (fete: the append and its commit). */
  | { type: 'emitted'; firstAt: number; lastAt: number; events: number; emitCallMs: { p50: number; p99: number } }
  | { type: 'usage'; usage: Usage }
  | { type: 'error'; message: string };

export type ClientsCommand = { type: 'arm' } | { type: 'report' } | { type: 'usage' } | { type: 'stop' };
export type ClientsReply =
  | { type: 'ready' }
  | { type: 'armed' }
  | { type: 'report'; deliveries: number; firstAt: number; lastAt: number; p50: number; p99: number; max: number }
  | { type: 'usage'; usage: Usage }
  | { type: 'error'; message: string };

/** The child's fatal errors reach the orchestrator as an `error` message. */
export function reportCrashes(say: (m: { type: 'error'; message: string }) => void): void {
  process.on('unhandledRejection', (err) => {
    say({ type: 'error', message: String((err as Error)?.stack ?? err) });
    process.exit(1);
  });
}
