// A Node child process on an IPC channel, run through tsx, seen from its parent: typed messages in
// and out, waiting for the next message of a type (a child's `error` message, or its exit, rejects
// the wait), and a kill with a grace period. Used by the multi-process tests and the benchmarks.
import { type ChildProcess, fork } from 'node:child_process';

export interface IpcChildOptions {
  /** Extra Node flags (e.g. --cpu-prof). @default none */
  execArgv?: string[];
  /** The child's stdout: shown, or dropped. @default 'ignore' */
  stdout?: 'inherit' | 'ignore';
  /** Names the child in errors. @default 'child' */
  label?: string;
}

export class IpcChild<In, Out extends { type: string }> {
  readonly proc: ChildProcess;
  readonly #inbox: Out[] = [];
  readonly #waiters = new Set<() => void>();
  readonly #label: string;
  #stderr = '';

  constructor(script: string, args: string[], options: IpcChildOptions = {}) {
    this.#label = options.label ?? 'child';
    this.proc = fork(script, args, {
      execArgv: ['--import', 'tsx', ...(options.execArgv ?? [])],
      stdio: ['ignore', options.stdout ?? 'ignore', 'pipe', 'ipc'],
    });
    this.proc.on('message', (m) => {
      this.#inbox.push(m as Out);
      for (const w of this.#waiters) w();
    });
    this.proc.stderr!.on('data', (c: Buffer) => (this.#stderr = (this.#stderr + c.toString()).slice(-4000)));
    this.proc.on('exit', () => {
      for (const w of this.#waiters) w();
    });
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  send(m: In): void {
    if (this.proc.connected) this.proc.send(m as object);
  }

  /** The next message of `type` (taken from the inbox); rejects on the child's `error` message, if
   * it exits first, or after `timeoutMs`. */
  next<T extends Out['type']>(type: T, timeoutMs = 300_000): Promise<Extract<Out, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`${this.#label}: timed out waiting for ${type}`)), timeoutMs);
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
          if (m.type === 'error') done(new Error(`${this.#label} failed: ${(m as unknown as { message: string }).message}`));
          else done(undefined, m as Extract<Out, { type: T }>);
        } else if (!this.alive)
          done(new Error(`${this.#label} exited (${this.proc.exitCode ?? this.proc.signalCode}) before ${type}; stderr:\n${this.#stderr}`));
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Waits up to `graceMs` for the child to exit by itself (after a stop message), then SIGKILLs it. */
  async kill(graceMs = 0): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    await Promise.race([exited, new Promise((r) => setTimeout(r, graceMs))]);
    if (!this.alive) return;
    this.proc.kill('SIGKILL');
    await exited;
  }
}
