// In-process dispatch without the store: `dispatch: 'inline'` (tests, ephemeral apps) and
// non-durable listeners. Same handler contract as durable listeners (attempts, timeout signal,
// backoff, dead letters, restored context), but nothing survives the process: queued work and
// retries waiting on a timer are lost on exit, and `ctx.tx` is refused (no store).
//
// `ctx.emit` here emits at once (there is no transaction to hold the events back), but with an id
// derived from (event, listener, n-th emit of the attempt) unless one is given, so a retried
// attempt that emits the same events again is deduplicated instead of doubled.
import { createHash } from 'node:crypto';
import createDebug from 'debug';
import { type Envelope, FeteError, type TopicCatalog } from '../../shared/index.js';
import type { Contexts } from '../context/context-registry.js';
import type { RegisteredListener } from '../registry.js';
import type { DeadLetter, EmitOptions, EmitResult, ListenerContext } from '../types.js';
import { AttemptAbort, timeoutError } from './attempt-abort.js';
import { backoffDelay } from './backoff.js';
import { errorText, runAttempt } from './run-attempt.js';
import type { FailureReport } from '../logger.js';

const debug = createDebug('fete:inline');
const MAX_DEAD = 1000;

interface Job {
  listener: RegisteredListener;
  envelope: Envelope;
  attempt: number;
}

interface Lane {
  queue: Job[];
  running: number;
  retrying: number;
  dead: number;
}

export interface InlineDeps {
  contexts: Contexts;
  random: () => number;
  emit(topic: unknown, payload: unknown, options?: EmitOptions): Promise<EmitResult>;
  /** Counts how an attempt ended (workerStatus, /health, /metrics). */
  outcome?(listener: RegisteredListener, outcome: 'completed' | 'retried' | 'dead'): void;
  /** The operational log of a failed attempt (logger.ts). */
  failed?(report: FailureReport): void;
}

/** A UUID (version 8, RFC 9562 custom) from a hash: the same inputs give the same id. */
export function derivedId(...parts: string[]): string {
  const b = createHash('sha256').update(parts.join('\u0000')).digest();
  b[6] = (b[6]! & 0x0f) | 0x80;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export class InlineDispatcher {
  readonly #lanes = new Map<RegisteredListener, Lane>();
  readonly #dead = new Map<number, DeadLetter & { job: Job }>();
  readonly #inflight = new Set<Promise<void>>();
  readonly #timers = new Map<NodeJS.Timeout, Job>();
  readonly #aborts = new Set<AttemptAbort>();
  #nextDeadId = -1;
  #closed = false;
  #stopping = false;
  #idle: Array<() => void> = [];

  constructor(private readonly deps: InlineDeps) {}

  #lane(l: RegisteredListener): Lane {
    let lane = this.#lanes.get(l);
    if (!lane) this.#lanes.set(l, (lane = { queue: [], running: 0, retrying: 0, dead: 0 }));
    return lane;
  }

  dispatch(envelope: Envelope, listeners: readonly RegisteredListener[]): void {
    if (this.#closed) return;
    for (const listener of listeners) this.#enqueue({ listener, envelope, attempt: 1 });
  }

  #enqueue(job: Job): void {
    const lane = this.#lane(job.listener);
    lane.queue.push(job);
    this.#pump(job.listener, lane);
  }

  #pump(l: RegisteredListener, lane: Lane): void {
    while (lane.queue.length > 0 && lane.running < l.options.concurrency) {
      const job = lane.queue.shift()!;
      lane.running++;
      const p = this.#run(job).finally(() => {
        lane.running--;
        this.#inflight.delete(p);
        this.#pump(l, lane);
        this.#checkIdle();
      });
      this.#inflight.add(p);
    }
  }

  async #run(job: Job): Promise<void> {
    const { listener, envelope, attempt } = job;
    const abort = new AttemptAbort();
    this.#aborts.add(abort);
    let n = 0;
    const ctx: ListenerContext<TopicCatalog, Envelope> = {
      envelope,
      attempt,
      get signal() {
        return abort.signal;
      },
      context: envelope.context,
      emit: ((topic: unknown, payload: unknown, options: EmitOptions = {}) => {
        if (abort.aborted) return Promise.reject(abort.reason);
        const id = options.id ?? derivedId(envelope.id, listener.target, listener.name, String(n++));
        return this.deps.emit(topic, payload, { ...options, id });
      }) as ListenerContext<TopicCatalog, Envelope>['emit'],
      tx: {
        query: () =>
          Promise.reject(
            new FeteError('INVALID_OPTIONS', `listener "${listener.name}": ctx.tx needs a store; it is not available to inline or non-durable listeners`),
          ),
      },
    };
    const { timeoutMs } = listener.options;
    const timer = setTimeout(() => abort.abort(timeoutError(attempt, timeoutMs)), timeoutMs);
    try {
      await new Promise<void>((resolve, reject) =>
        runAttempt(listener.handler, ctx, this.deps.contexts, abort, { settled: (failed, err) => (failed ? reject(err) : resolve()) }),
      );
      this.deps.outcome?.(listener, 'completed');
    } catch (err) {
      this.#failed(job, err, abort);
    } finally {
      clearTimeout(timer);
      this.#aborts.delete(abort);
    }
  }

  #failed(job: Job, err: unknown, abort: AttemptAbort): void {
    const { listener, attempt } = job;
    const lane = this.#lane(listener);
    if (this.#closed && abort.aborted) return;
    if (attempt >= listener.options.retries + 1) {
      lane.dead++;
      this.deps.outcome?.(listener, 'dead');
      const id = this.#nextDeadId--;
      this.#dead.set(id, {
        id,
        job,
        listener: { target: listener.target, name: listener.name },
        attempts: attempt,
        lastError: errorText(err),
        failedAt: new Date().toISOString(),
        envelope: job.envelope,
      });
      if (this.#dead.size > MAX_DEAD) this.#dead.delete(this.#dead.keys().next().value!);
      debug('%s/%s: event %s is dead after %d attempts', listener.target, listener.name, job.envelope.id, attempt);
      this.deps.failed?.({ listener, eventId: job.envelope.id, attempt, maxAttempts: listener.options.retries + 1, error: err, dead: true });
      return;
    }
    if (this.#stopping) {
      debug('%s/%s: attempt %d of event %s failed while stopping; no retry', listener.target, listener.name, attempt, job.envelope.id);
      return;
    }
    const delay = backoffDelay(attempt, listener.options.backoff, this.deps.random);
    lane.retrying++;
    this.deps.outcome?.(listener, 'retried');
    this.deps.failed?.({ listener, eventId: job.envelope.id, attempt, maxAttempts: listener.options.retries + 1, error: err, dead: false, retryInMs: delay });
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      lane.retrying--;
      this.#enqueue({ ...job, attempt: attempt + 1 });
    }, delay);
    this.#timers.set(timer, job);
  }

  counts(l: RegisteredListener): { pending: number; running: number; retrying: number; dead: number } {
    const lane = this.#lanes.get(l);
    if (!lane) return { pending: 0, running: 0, retrying: 0, dead: 0 };
    let dead = 0;
    for (const d of this.#dead.values()) if (d.job.listener === l) dead++;
    return { pending: lane.queue.length, running: lane.running, retrying: lane.retrying, dead };
  }

  deadLetters(): DeadLetter[] {
    return [...this.#dead.values()].map(({ job: _job, ...d }) => d);
  }

  /** Runs a dead letter again with a fresh set of attempts; false if there is none with this id. */
  retry(id: number): boolean {
    const d = this.#dead.get(id);
    if (!d) return false;
    this.#dead.delete(id);
    this.#enqueue({ ...d.job, attempt: 1 });
    return true;
  }

  #checkIdle(): void {
    if (this.#inflight.size > 0) return;
    for (const lane of this.#lanes.values()) if (lane.queue.length > 0) return;
    const waiters = this.#idle.splice(0);
    for (const w of waiters) w();
  }

  /** Stops: retries waiting on a timer are dropped; queued and running attempts finish (drain)
   * or running ones are aborted with CLOSED and queued ones dropped. */
  async stop(drain: boolean): Promise<void> {
    this.#stopping = true;
    for (const [t, job] of this.#timers) {
      clearTimeout(t);
      debug('%s/%s: retry of event %s dropped by stop()', job.listener.target, job.listener.name, job.envelope.id);
    }
    this.#timers.clear();
    if (!drain) {
      this.#closed = true;
      for (const lane of this.#lanes.values()) lane.queue.length = 0;
      for (const a of this.#aborts) a.abort(new FeteError('CLOSED', 'fete is stopping without draining'));
    }
    if (this.#inflight.size > 0) await new Promise<void>((r) => this.#idle.push(r));
    this.#closed = true;
  }
}
