// Shared by the fanout benchmark's processes: the catalogue, the subscription patterns, the
// messages the orchestrator and its two children exchange over IPC, and the clock they share.
// Every process stamps times with `now()` (wall clock with sub-millisecond resolution), so a
// timestamp taken in the server child can be compared with one taken in the clients child.
import { type ChildProcess, fork } from 'node:child_process';
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
  | { type: 'stop' };

export type ServerMessage =
  | { type: 'ready'; port: number }
  /** `firstAt`: when the first emit was called, `lastAt` when the last one returned;
   * `emitCallMs`: how long an emit call took to resolve (fixed-rate phase only). */
  | { type: 'emitted'; firstAt: number; lastAt: number; emitCallMs?: { p50: number; p99: number } }
  | { type: 'usage'; cpu: Cpu }
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

/** CPU time of a process (so far, or during a phase), in ms: user space and kernel. */
export interface Cpu {
  user: number;
  system: number;
}

export function cpuUsage(): Cpu {
  const u = process.cpuUsage();
  return { user: u.user / 1000, system: u.system / 1000 };
}

/** A child on IPC, run through tsx like the rest of the benchmark. */
export class BenchChild<In, Out extends { type: string }> {
  readonly proc: ChildProcess;
  readonly #inbox: Out[] = [];
  #waiters = new Set<() => void>();
  #stderr = '';

  constructor(script: string, args: string[], execArgv: string[] = []) {
    this.proc = fork(script, args, { execArgv: ['--import', 'tsx', ...execArgv], stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
    this.proc.on('message', (m) => {
      this.#inbox.push(m as Out);
      for (const w of this.#waiters) w();
    });
    this.proc.stderr!.on('data', (c: Buffer) => (this.#stderr = (this.#stderr + c.toString()).slice(-4000)));
    this.proc.on('exit', () => {
      for (const w of this.#waiters) w();
    });
  }

  send(m: In): void {
    if (this.proc.connected) this.proc.send(m as object);
  }

  /** The next message of `type` (taken from the inbox); rejects if the child exits first. */
  next<T extends Out['type']>(type: T, timeoutMs = 300_000): Promise<Extract<Out, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`timed out waiting for ${type}`)), timeoutMs);
      const done = (err?: Error, value?: Extract<Out, { type: T }>) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        if (err) reject(err);
        else resolve(value!);
      };
      const check = () => {
        const i = this.#inbox.findIndex((m) => m.type === type || m.type === 'error');
        if (i >= 0) {
          const m = this.#inbox.splice(i, 1)[0]!;
          if (m.type === 'error') done(new Error(`child failed: ${(m as unknown as { message: string }).message}`));
          else done(undefined, m as Extract<Out, { type: T }>);
        } else if (this.proc.exitCode !== null || this.proc.signalCode !== null)
          done(new Error(`child exited (${this.proc.exitCode ?? this.proc.signalCode}) before ${type}; stderr:\n${this.#stderr}`));
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Waits up to `graceMs` for the child to exit by itself (after `stop`), then SIGKILLs it. */
  async kill(graceMs = 0): Promise<void> {
    const gone = () => this.proc.exitCode !== null || this.proc.signalCode !== null;
    if (gone()) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    await Promise.race([exited, new Promise((r) => setTimeout(r, graceMs))]);
    if (gone()) return;
    this.proc.kill('SIGKILL');
    await exited;
  }
}
