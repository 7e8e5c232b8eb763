// Shared by the fanout benchmark's processes: the catalogue, the subscription patterns, the
// messages the orchestrator and its two children exchange over IPC, and the clock they share.
// Every process stamps times with `now()` (wall clock with sub-millisecond resolution), so a
// timestamp taken in the server child can be compared with one taken in the clients child.
import { defineTopic, defineTopics } from '../../shared/index.js';

export const topics = defineTopics({
  orderStatus: defineTopic('orders.{orderId}.status', { kind: 'presentation' }),
});
/** The same topic outside the log (bench/scenarios/live.ts): sent live only, or kept as the latest
 * value per subject. */
export const volatileTopics = defineTopics({
  orderStatus: defineTopic('orders.{orderId}.status', { kind: 'presentation', delivery: 'volatile' }),
});
export const latestTopics = defineTopics({
  orderStatus: defineTopic('orders.{orderId}.status', { kind: 'presentation', delivery: 'latest' }),
});

/** The payload of every event: `sentAt` is `now()` at the emit call, `n` the event's number in
 * its server's run (to match a delivery with its event's commit time). */
export interface StatusPayload {
  orderId: string;
  status: string;
  sentAt: number;
  n: number;
}

/** p50 and p99 in ms. */
export interface Percentiles {
  p50: number;
  p99: number;
}

/** What each client subscribes to, by client index: all of them match every `orders.<id>.status`. */
export const PATTERNS = ['orders.*.status', 'orders.>', 'orders.*.*', '>'] as const;

/** Which server: plain Socket.IO room broadcast; `plain-pg` the same broadcast after a one-row
 * INSERT of the envelope on PostgreSQL (autocommit), as an app that hand-wires a durable write to
 * Socket.IO would; or fete on PostgreSQL / PGlite (in memory); `-volatile` / `-latest`: fete on
 * PostgreSQL with the topic declared so. */
export type Impl = 'plain' | 'plain-pg' | 'fete-pg' | 'fete-pglite' | 'fete-pg-volatile' | 'fete-pg-latest';

/** Whether `impl` is one of the plain Socket.IO servers (its packets are the envelope itself). */
export const isPlain = (impl: Impl): boolean => impl === 'plain' || impl === 'plain-pg';

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
  | {
      type: 'emitted';
      firstAt: number;
      lastAt: number;
      emitCallMs?: Percentiles;
      /** fete, fixed-rate phase: emit call to the commit hook (the append round trip, group wait
       * included), and each event's commit time by `n`. */
      appendMs?: Percentiles;
      commits?: Array<[n: number, at: number]>;
    }
  | { type: 'usage'; cpu: Cpu }
  | { type: 'memory'; memory: Memory }
  | { type: 'error'; message: string };

export type ClientsCommand =
  | { type: 'expect'; deliveries: number; latency: boolean }
  /** Commit time of each event of the last latency phase: answer with commit-to-receipt percentiles. */
  | { type: 'fanout'; commits: Array<[n: number, at: number]> }
  | { type: 'usage' }
  | { type: 'stop' };

export type ClientsMessage =
  | { type: 'ready' }
  /** The `expect` command took effect: deliveries from now on count. */
  | { type: 'armed' }
  /** `lastAt`: when the last expected delivery arrived; latencies in ms (only when asked). */
  | { type: 'received'; lastAt: number; deliveries: number; latency?: { p50: number; p99: number; max: number; count: number } }
  | { type: 'fanout'; fanoutMs: Percentiles & { count: number } }
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

