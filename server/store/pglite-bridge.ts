// The main thread's end of the PGlite worker (pglite-worker.js): starts the worker, sends requests
// in batches (everything asked in one turn of the event loop goes as one message) and settles each
// request from the worker's batched replies. Results arrive as structured clones: rows with their
// Dates, BigInts and byte arrays intact, one message per batch, never one per row.
//
// The worker is `unref`ed while nothing is pending, so an idle store does not keep the process
// alive (as PGlite on the main thread did not); a pending request keeps it alive until it settles.
import { Worker } from 'node:worker_threads';
import createDebug from 'debug';

const debug = createDebug('fete:store');

/** Requests are split into messages of at most this many (a burst still goes out in order). */
const REQUEST_BATCH = 64;

/** A failure reported by the worker, rebuilt with PGlite's fields (`code` is the SQLSTATE). */
export interface WorkerError extends Error {
  code?: string;
  detail?: string;
}

type Reply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: Record<string, unknown> & { message: string } }
  | { notify: string; payload: string }
  | { log: string };

interface Pending {
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

function rebuild(e: Record<string, unknown> & { message: string }): WorkerError {
  const err = new Error(e.message) as WorkerError & Record<string, unknown>;
  for (const [k, v] of Object.entries(e)) if (k !== 'message' && k !== 'stack') err[k] = v;
  if (typeof e.stack === 'string') err.stack = e.stack;
  return err;
}

export class PGliteBridge {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  readonly #notify: (channel: string, payload: string) => void;
  readonly #onExit: (err: Error) => void;
  #outbox: Array<Record<string, unknown>> = [];
  #flushQueued = false;
  #nextId = 1;
  #exited: Error | undefined;

  /** `onNotify` gets NOTIFY payloads of listened channels; `onExit` is told once if the worker
   * dies on its own (a WASM abort, an uncaught error), after every pending request is rejected. */
  constructor(onNotify: (channel: string, payload: string) => void, onExit: (err: Error) => void) {
    this.#notify = onNotify;
    this.#onExit = onExit;
    this.#worker = new Worker(new URL('./pglite-worker.js', import.meta.url));
    this.#worker.unref();
    this.#worker.on('message', (batch: Reply[]) => this.#receive(batch));
    this.#worker.on('error', (err: unknown) => this.#fail(err instanceof Error ? err : new Error(String(err))));
    this.#worker.on('exit', (code) => this.#fail(new Error(`the PGlite worker thread exited (code ${code})`)));
  }

  /** Sends one request; resolves with the worker's value or rejects with its rebuilt error. */
  call<T>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    if (this.#exited) return Promise.reject(this.#exited);
    const id = this.#nextId++;
    const done = new Promise<T>((resolve, reject) => this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject }));
    if (this.#pending.size === 1) this.#worker.ref();
    this.#outbox.push({ ...args, id, op });
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => this.#flush());
    }
    return done;
  }

  #flush(): void {
    this.#flushQueued = false;
    const out = this.#outbox;
    this.#outbox = [];
    for (let i = 0; i < out.length; i += REQUEST_BATCH) this.#worker.postMessage(out.slice(i, i + REQUEST_BATCH));
  }

  #receive(batch: Reply[]): void {
    for (const r of batch) {
      if ('notify' in r) {
        this.#notify(r.notify, r.payload);
        continue;
      }
      if ('log' in r) {
        debug('PGlite worker: %s', r.log);
        continue;
      }
      const p = this.#pending.get(r.id);
      if (!p) continue;
      this.#pending.delete(r.id);
      if (r.ok) p.resolve(r.value);
      else p.reject(rebuild(r.error));
    }
    if (this.#pending.size === 0) this.#worker.unref();
  }

  #fail(err: Error): void {
    if (this.#exited) return;
    this.#exited = err;
    debug('PGlite worker gone: %s', err.message);
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
    this.#onExit(err);
  }

  /** Whether the worker is gone (then every call rejects). */
  get exited(): boolean {
    return this.#exited !== undefined;
  }

  /** Stops the worker thread (after `close` was asked of it, or to abandon a broken instance). */
  async terminate(): Promise<void> {
    if (!this.#exited) this.#exited = new Error('the PGlite worker thread was stopped');
    for (const p of this.#pending.values()) p.reject(this.#exited);
    this.#pending.clear();
    await this.#worker.terminate();
  }
}
