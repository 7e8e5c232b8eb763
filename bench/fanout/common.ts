// Shared by the fanout benchmark's processes: the catalogue, the subscription patterns, the
// messages the orchestrator and its two children exchange over IPC, and the clock they share.
// Every process stamps times with `now()` (wall clock with sub-millisecond resolution), so a
// timestamp taken in the server child can be compared with one taken in the clients child.
import { defineTopic, defineTopics } from '../../shared/index.js';

export const topics = defineTopics({
  orderStatus: defineTopic('orders.{orderId}.status', { kind: 'presentation' }),
});

/** The payload of every event: `sentAt` is `now()` at the emit call. */
export interface StatusPayload {
  orderId: string;
  status: string;
  sentAt: number;
}

/** What each client subscribes to, by client index: all of them match every `orders.<id>.status`. */
export const PATTERNS = ['orders.*.status', 'orders.>', 'orders.*.*', '>'] as const;

/** Which server: plain Socket.IO room broadcast, or fete on PostgreSQL / PGlite (in memory). */
export type Impl = 'plain' | 'fete-pg' | 'fete-pglite';

/** How a fete server emits a burst: `fete.emit` per event (32 in flight), or `fete.emitMany` of 100. */
export type EmitMode = 'each' | 'many';

/** How subscription ids are chosen: `shared` as the browser client does (its first subscription is
 * `s0` on every page), `unique` a different sid on every socket (no two packets alike). */
export type SidMode = 'shared' | 'unique';

export function now(): number {
  return performance.timeOrigin + performance.now();
}

export type ServerCommand =
  | { type: 'burst'; events: number }
  | { type: 'rate'; perSecond: number; events: number }
  | { type: 'usage' }
  /** Collect garbage (the child runs with --expose-gc) and report memory. */
  | { type: 'memory' }
  | { type: 'stop' };

export type ServerMessage =
  | { type: 'ready'; port: number }
  /** `firstAt`: when the first emit was called, `lastAt` when the last one returned;
   * `emitCallMs`: how long an emit call took to resolve (fixed-rate phase only). */
  | { type: 'emitted'; firstAt: number; lastAt: number; emitCallMs?: { p50: number; p99: number } }
  | { type: 'usage'; cpu: Cpu }
  | { type: 'memory'; memory: Memory }
  | { type: 'error'; message: string };

export type ClientsCommand =
  | { type: 'expect'; deliveries: number; latency: boolean }
  | { type: 'usage' }
  | { type: 'stop' };

export type ClientsMessage =
  | { type: 'ready' }
  /** The `expect` command took effect: deliveries from now on count. */
  | { type: 'armed' }
  /** `lastAt`: when the last expected delivery arrived; latencies in ms (only when asked). */
  | { type: 'received'; lastAt: number; deliveries: number; latency?: { p50: number; p99: number; max: number; count: number } }
  | { type: 'usage'; cpu: Cpu }
  | { type: 'error'; message: string };

/** A process's memory after a full garbage collection, in bytes (process.memoryUsage()). */
export interface Memory {
  rss: number;
  heapUsed: number;
  /** Memory of C++ objects bound to JS ones, ArrayBuffers (socket buffers) included. */
  external: number;
}

/** Full collections until the heap stops shrinking (a few: weak callbacks and finalizers free
 * more in a second pass), then the process's memory. Needs `--expose-gc`. */
export async function settledMemory(): Promise<Memory> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('settledMemory needs node --expose-gc');
  let last = Infinity;
  for (let i = 0; i < 10; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 50));
    const used = process.memoryUsage().heapUsed;
    if (used >= last * 0.999) break;
    last = used;
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external };
}

/** CPU time of a process (so far, or during a phase), in ms: user space and kernel. */
export interface Cpu {
  user: number;
  system: number;
}

export function cpuUsage(): Cpu {
  const u = process.cpuUsage();
  return { user: u.user / 1000, system: u.system / 1000 };
}

