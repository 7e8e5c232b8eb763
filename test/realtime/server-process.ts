// A fete web server in a child process (fanout-server-child.ts), seen from the test: spawned
// through tsx with an IPC channel, its port from the `ready` message, commands and their replies.
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildCommand, ChildConfig, ChildReply } from './fanout-server-child.js';

const script = fileURLToPath(new URL('./fanout-server-child.ts', import.meta.url));

export class ServerProcess {
  readonly proc: ChildProcess;
  readonly #inbox: ChildReply[] = [];
  readonly #waiters = new Set<() => void>();
  #stderr = '';

  constructor(config: ChildConfig) {
    this.proc = fork(script, [JSON.stringify(config)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    this.proc.on('message', (m) => {
      this.#inbox.push(m as ChildReply);
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

  send(m: ChildCommand): void {
    this.proc.send(m);
  }

  /** The next reply of `type`; rejects if the child reports an error or exits first. */
  next<T extends ChildReply['type']>(type: T): Promise<Extract<ChildReply, { type: T }>> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const i = this.#inbox.findIndex((m) => m.type === type || m.type === 'error');
        if (i >= 0) {
          this.#waiters.delete(check);
          const m = this.#inbox.splice(i, 1)[0]!;
          if (m.type === 'error') reject(new Error(`server process failed: ${m.message}`));
          else resolve(m as Extract<ChildReply, { type: T }>);
        } else if (!this.alive) {
          this.#waiters.delete(check);
          reject(new Error(`server process exited (${this.proc.exitCode ?? this.proc.signalCode}) before ${type}; stderr:\n${this.#stderr}`));
        }
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Asks the child to stop fete and exit; SIGKILL if it has not within 10 s. */
  async stop(): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.send({ type: 'stop' });
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
