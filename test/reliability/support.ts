// Shared by the reliability tests and the worker process they spawn: the topic catalogue, the
// deterministic event ids, the child's configuration, and a handle on a running child that reads
// its JSON-lines stdout. Real processes only: children are killed with real signals.
import { type ChildProcess, spawn } from 'node:child_process';
import type { WorkerOptions } from '../../server/index.js';
import { defineTopic, defineTopics } from '../../shared/index.js';

export const topics = defineTopics({
  work: defineTopic('work.{n}', { kind: 'domain' }),
});

/** The id of the i-th event: fixed, so an emit repeated by a restarted process is a duplicate. */
export function eventId(i: number): string {
  return `00000000-0000-7000-8000-${i.toString(16).padStart(12, '0')}`;
}

export interface ChildConfig {
  /** A postgres:// URL, or `{ pglite: dir }`. */
  store: string | { pglite: string };
  schema: string;
  /**
   * `ledger`: each event's handler inserts (event id, pid, attempt) into `ledger` through ctx.tx.
   * `gated`: the same, then records "started" in `starts` outside ctx.tx (autocommit, so it
   * survives a rollback), prints `started`, and waits until the process gets SIGUSR2.
   */
  mode: 'ledger' | 'gated';
  /** Emit events 0..emit-1 (by `eventId`) in batches while the worker runs (PGlite: one process). */
  emit?: number;
  /** Worker intervals; omitted ones keep fete's defaults. */
  worker: WorkerOptions;
  concurrency: number;
}

/** What the child prints, one JSON object a line. */
export type ChildMessage =
  | { type: 'ready'; pid: number }
  | { type: 'progress'; ledger: number; emitted: number }
  | { type: 'started'; eventId: string; attempt: number; pid: number }
  | { type: 'returned'; eventId: string; aborted: boolean }
  | { type: 'stopped' }
  | { type: 'error'; message: string };

const childScript = new URL('./worker-child.ts', import.meta.url).pathname;

export class Child {
  readonly proc: ChildProcess;
  readonly messages: ChildMessage[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters = new Set<() => void>();

  constructor(config: ChildConfig, env: Record<string, string> = {}) {
    this.proc = spawn(process.execPath, ['--import', 'tsx', childScript, JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let buffered = '';
    this.proc.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        this.messages.push(JSON.parse(line) as ChildMessage);
        for (const w of this.#waiters) w();
      }
    });
    this.proc.stderr!.on('data', (chunk: Buffer) => this.stderr.push(chunk.toString()));
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => resolve({ code, signal })));
    void this.exited.then(() => {
      for (const w of this.#waiters) w();
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** The latest message of a type, if any. */
  last<T extends ChildMessage['type']>(type: T): Extract<ChildMessage, { type: T }> | undefined {
    for (let i = this.messages.length - 1; i >= 0; i--) if (this.messages[i]!.type === type) return this.messages[i] as Extract<ChildMessage, { type: T }>;
    return undefined;
  }

  /** Resolves with the first message (from the start) for which `match` holds; rejects if the child exits first. */
  waitFor<T extends ChildMessage['type']>(type: T, match: (m: Extract<ChildMessage, { type: T }>) => boolean = () => true): Promise<Extract<ChildMessage, { type: T }>> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.messages.find((m): m is Extract<ChildMessage, { type: T }> => m.type === type && match(m as Extract<ChildMessage, { type: T }>));
        if (found) {
          this.#waiters.delete(check);
          resolve(found);
        } else if (!this.alive) {
          this.#waiters.delete(check);
          reject(new Error(`worker ${this.pid} exited (${this.proc.exitCode ?? this.proc.signalCode}) before printing ${type}; stderr:\n${this.stderr.join('').slice(-3000)}`));
        }
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** SIGKILL, and resolves once the process is gone. */
  async kill(): Promise<void> {
    if (this.alive) this.proc.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM: the child stops fete (draining) and exits 0. */
  async stop(): Promise<void> {
    if (this.alive) this.proc.kill('SIGTERM');
    const { code, signal } = await this.exited;
    if (code !== 0) throw new Error(`worker ${this.pid} did not stop cleanly (${code ?? signal}); stderr:\n${this.stderr.join('').slice(-3000)}`);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
