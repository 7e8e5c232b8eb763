// In-process dispatch without the store: `dispatch: 'inline'` (tests, ephemeral apps) and
// non-durable listeners. Same handler contract as durable listeners (attempts, timeout signal,
// backoff, dead letters, restored context, delayed emits, ordering keys), but nothing survives
// the process: queued work and retries waiting on a timer are lost on exit. `ctx.tx` is the store
// transaction where there is a store, and absent (type and value) under `dispatch: 'inline'`.
//
// `ctx.emit` appends in the attempt's own transaction (InlineDeps.begin: the in-memory log's, or
// the store's for non-durable listeners of a durable fete) and commits only when the attempt
// succeeds: a failed attempt's events vanish, as under durable dispatch. Ids are derived from
// (event, listener, n-th emit of the attempt) unless given, so a retry emitting again dedupes.
//
// Ordering keys: per listener, the jobs of one key form a line in seq (dispatch) order; only its
// head is queued or run. The head leaves the line when it completes (or is skipped); a retry keeps
// it at the head, and a dead head blocks the key until `retry` or `skip`, as durable does.
import { createHash } from 'node:crypto';
import createDebug from 'debug';
import { type Envelope, FeteError, type TopicCatalog } from '../../shared/index.js';
import type { Contexts } from '../context/context-registry.js';
import type { RegisteredListener } from '../registry.js';
import type { DeadLetter, EmitOptions, EmitResult, ListenerContext, TxQuery } from '../types.js';
import { AttemptAbort, timeoutError } from './attempt-abort.js';
import { backoffDelay } from './backoff.js';
import { dueTime, listenerOrderKey, orderKeyOf } from './delivery-plan.js';
import { errorText, runAttempt } from './run-attempt.js';
import type { FailureReport } from '../logger.js';

const debug = createDebug('fete:inline');
const MAX_DEAD = 1000;

interface Job {
  listener: RegisteredListener;
  envelope: Envelope;
  attempt: number;
  orderKey?: string | undefined;
  /** Due (its delay is over) but waiting behind an earlier job of its ordering key. */
  due?: boolean;
}

interface Lane {
  queue: Job[];
  running: number;
  retrying: number;
  /** Waiting for their `delayMs` / `runAt`. */
  delayed: number;
  dead: number;
  /** Ordering keys: the jobs of each key in dispatch order; the head is the one that may run. */
  lines: Map<string, Job[]>;
}

/** An attempt's emits, committed only if the attempt succeeds (InlineDeps.begin). */
export interface AttemptEmits {
  emit(topic: unknown, payload: unknown, options?: EmitOptions): Promise<EmitResult>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

export interface InlineDeps {
  contexts: Contexts;
  random: () => number;
  /** Opens an attempt's emit transaction (lazily: nothing happens until its first emit). */
  begin(): AttemptEmits;
  /** The attempt's `ctx.tx`: the store transaction under durable dispatch, else refusing. */
  tx?(emits: AttemptEmits): TxQuery | undefined;
  /** Runs an attempt inside whatever scope its transaction needs (PGlite: the guard against
   * using the store outside it, which would wait for itself). */
  scope?<T>(emits: AttemptEmits, fn: () => T): T;
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
  readonly #delays = new Set<NodeJS.Timeout>();
  /** When each delay or retry timer is due (epoch ms): waitIdle looks ahead by them. */
  readonly #dueAt = new Map<NodeJS.Timeout, number>();
  #nextDeadId = -1;
  #closed = false;
  #stopping = false;
  #idle: Array<() => void> = [];

  constructor(private readonly deps: InlineDeps) {}

  #lane(l: RegisteredListener): Lane {
    let lane = this.#lanes.get(l);
    if (!lane) this.#lanes.set(l, (lane = { queue: [], running: 0, retrying: 0, delayed: 0, dead: 0, lines: new Map() }));
    return lane;
  }

  /** Runs the listeners for a committed event, when its emit options say (delay, ordering key). */
  dispatch(envelope: Envelope, listeners: readonly RegisteredListener[], options?: EmitOptions): void {
    if (this.#closed) return;
    const due = dueTime(options);
    const eventKey = orderKeyOf(options?.orderKey, 'emit orderKey');
    for (const listener of listeners) {
      let orderKey: string | undefined;
      try {
        orderKey = listenerOrderKey(listener, envelope, eventKey);
      } catch (err) {
        // The event is committed: a key that cannot be computed runs it unordered, loudly.
        debug('%s/%s: %s; running event %s without an ordering key', listener.target, listener.name, (err as Error).message, envelope.id);
      }
      const job: Job = { listener, envelope, attempt: 1, orderKey };
      const lane = this.#lane(listener);
      if (orderKey !== undefined) {
        const line = lane.lines.get(orderKey);
        if (line) line.push(job);
        else lane.lines.set(orderKey, [job]);
      }
      if (due === undefined) this.#release(job);
      else {
        lane.delayed++;
        const timer = setTimeout(() => {
          this.#delays.delete(timer);
          this.#dueAt.delete(timer);
          lane.delayed--;
          this.#release(job);
          this.#checkIdle();
        }, Math.max(1, due - Date.now()));
        this.#delays.add(timer);
        this.#dueAt.set(timer, due);
      }
    }
  }

  /** A job that is due: queued if it has no key or heads its key's line (else its turn comes). */
  #release(job: Job): void {
    if (job.orderKey !== undefined && this.#lane(job.listener).lines.get(job.orderKey)?.[0] !== job) {
      job.due = true;
      return;
    }
    this.#enqueue(job);
  }

  /** The head of a key's line is done (completed or skipped): the next one runs if it is due. */
  #advance(job: Job): void {
    if (job.orderKey === undefined) return;
    const lane = this.#lane(job.listener);
    const line = lane.lines.get(job.orderKey);
    if (!line || line[0] !== job) return;
    line.shift();
    if (line.length === 0) lane.lines.delete(job.orderKey);
    else if (line[0]!.due) this.#enqueue(line[0]!);
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
    const emits = this.deps.begin();
    const tx = this.deps.tx?.(emits);
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
        return emits.emit(topic, payload, { ...options, id });
      }) as ListenerContext<TopicCatalog, Envelope>['emit'],
      // Absent without a store (dispatch: 'inline'), and absent from the types there too.
      tx: tx as TxQuery,
    };
    const { timeoutMs } = listener.options;
    const timer = setTimeout(() => abort.abort(timeoutError(attempt, timeoutMs)), timeoutMs);
    try {
      await new Promise<void>((resolve, reject) => {
        const go = () => runAttempt(listener.handler, ctx, this.deps.contexts, abort, { settled: (failed, err) => (failed ? reject(err) : resolve()) });
        if (this.deps.scope) this.deps.scope(emits, go);
        else go();
      });
      // The attempt's emits commit with its success, as a durable attempt's do with its completion.
      await emits.commit();
      this.deps.outcome?.(listener, 'completed');
      this.#advance(job);
    } catch (err) {
      await emits.rollback().catch((e: Error) => debug('rolling back the emits of an attempt failed: %s', e.message));
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
    // The same job object stays at the head of its key's line while it retries.
    job.attempt = attempt + 1;
    this.deps.outcome?.(listener, 'retried');
    this.deps.failed?.({ listener, eventId: job.envelope.id, attempt, maxAttempts: listener.options.retries + 1, error: err, dead: false, retryInMs: delay });
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#dueAt.delete(timer);
      lane.retrying--;
      this.#enqueue(job);
    }, delay);
    this.#timers.set(timer, job);
    this.#dueAt.set(timer, Date.now() + delay);
  }

  counts(l: RegisteredListener): { pending: number; running: number; retrying: number; dead: number } {
    const lane = this.#lanes.get(l);
    if (!lane) return { pending: 0, running: 0, retrying: 0, dead: 0 };
    let dead = 0;
    for (const d of this.#dead.values()) if (d.job.listener === l) dead++;
    return { pending: lane.queue.length + lane.delayed, running: lane.running, retrying: lane.retrying, dead };
  }

  deadLetters(): DeadLetter[] {
    return [...this.#dead.values()].map(({ job: _job, ...d }) => d);
  }

  /** Runs a dead letter again with a fresh set of attempts; false if there is none with this id. */
  retry(id: number): boolean {
    const d = this.#dead.get(id);
    if (!d) return false;
    this.#dead.delete(id);
    // The same job object: it is still the head of its key's line.
    d.job.attempt = 1;
    this.#enqueue(d.job);
    return true;
  }

  /** Drops a dead letter for good, unblocking its ordering key; false if there is none. */
  skip(id: number): boolean {
    const d = this.#dead.get(id);
    if (!d) return false;
    this.#dead.delete(id);
    this.#advance(d.job);
    this.#checkIdle();
    return true;
  }

  /** No attempt queued or running, and none delayed or waiting for a retry that is due by
   * `horizon` (epoch ms). Jobs behind a dead head of their key are blocked, not waiting. */
  idle(horizon = Infinity): boolean {
    if (this.#inflight.size > 0) return false;
    for (const lane of this.#lanes.values()) if (lane.queue.length > 0 || lane.running > 0) return false;
    for (const t of this.#dueAt.values()) if (t <= horizon) return false;
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
    for (const t of this.#delays) clearTimeout(t);
    this.#delays.clear();
    this.#dueAt.clear();
    if (!drain) {
      this.#closed = true;
      for (const lane of this.#lanes.values()) lane.queue.length = 0;
      for (const a of this.#aborts) a.abort(new FeteError('CLOSED', 'fete is stopping without draining'));
    }
    if (this.#inflight.size > 0) await new Promise<void>((r) => this.#idle.push(r));
    this.#closed = true;
  }
}
