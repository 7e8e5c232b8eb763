// The schedules of one process: `fete.schedule(name, spec, target)` declares one; processes with
// the worker role (after `start()`) or under `dispatch: 'inline'` tick them.
//
// Exactly one run per tick, across any number of processes. A tick is an event whose id is
// derived from (schedule, tick time), so every process that ticks appends the same id and the
// log's unique id turns all but the first append into a duplicate. A handler schedule's run is
// the delivery of that event to the schedule's own durable listener (`$schedule.<name>`), with
// retries, timeouts and dead letters like any listener; a `{ topic, payload }` schedule's tick
// is an ordinary event of that topic, delivered to its listeners.
//
// Fixed schedules (cron, everyMs) tick on a grid every process computes alike. Missed ticks — in
// (last tick recorded in the store, now] at start, or passed while the event loop was stalled —
// follow `catchUp`: 'none' skips them, 'last' runs the latest one, 'all' runs each (at most
// MAX_CATCH_UP). Adaptive schedules have no grid: the store's `next_run_at` is taken by one
// process (schedule-state.ts `takeDue`), and the run itself plans the next one from its result.
import createDebug from 'debug';
import { type Envelope, FeteError } from '../../shared/index.js';
import { derivedId } from '../dispatch/inline-dispatcher.js';
import type { ListenerContext } from '../types.js';
import { type ParsedSpec, type ScheduleSpec, nextInterval, nextTick, parseSpec } from './schedule-spec.js';
import type { ScheduleState } from './schedule-state.js';

const debug = createDebug('fete:schedule');

/** Most missed ticks run by catchUp 'all' (the newest ones). */
export const MAX_CATCH_UP = 1000;
/** The topic (and subject) of a handler schedule's tick events: not in any catalogue, matched
 * only by that schedule's own listener. */
export function scheduleTopic(name: string): string {
  return `$schedule.${name}`;
}

export type CatchUp = 'none' | 'last' | 'all';

/** What a handler schedule's run gets (the tick event's payload). */
export interface ScheduleTick {
  schedule: string;
  /** The tick this run is for (its planned time, not when it runs). */
  tick: Date;
}

export type ScheduleHandler = (tick: ScheduleTick, ctx: ListenerContext<never>) => unknown;

export interface ScheduleOptions {
  /** Missed ticks (downtime, a stalled process): 'none' skips them, 'last' runs the newest,
   * 'all' runs each of them (at most 1000). Adaptive schedules run once when overdue. @default 'last' */
  catchUp?: CatchUp;
  /** Attempts after a failed run (handler schedules). @default the listener default (8) */
  retries?: number;
  /** One run may take this long. @default the listener default (30_000) */
  timeoutMs?: number;
}

export interface ScheduleStats {
  name: string;
  kind: 'cron' | 'every' | 'adaptive';
  spec: Record<string, unknown>;
  /** Declared in this process. */
  local: boolean;
  /** ISO times, null when unknown or never. */
  lastTick: string | null;
  lastRunAt: string | null;
  nextRunAt: string | null;
  /** Adaptive schedules: the current interval (ms). */
  intervalMs: number | null;
}

export interface SchedulerDeps {
  state: ScheduleState;
  /** Appends tick events (already built) and runs what follows the commit. */
  append(envelopes: Envelope[]): Promise<unknown>;
  /** Builds an event of a catalogue topic (`{ topic, payload }` schedules). */
  build(topic: unknown, payload: unknown, id: string): Promise<Envelope>;
  /** How often an adaptive schedule's row is looked at when this process did not run it. */
  pollIntervalMs: number;
}

interface Declared {
  name: string;
  spec: ParsedSpec;
  catchUp: CatchUp;
  handler: ScheduleHandler | undefined;
  topic: unknown;
  payload: unknown;
  timer: NodeJS.Timeout | undefined;
  /** The newest tick this process knows was appended (fixed schedules). */
  last: number | undefined;
  running: boolean;
}

const NAME_RE = /^[A-Za-z0-9_-]{1,100}$/;

export function checkScheduleName(name: unknown): string {
  if (typeof name !== 'string' || !NAME_RE.test(name))
    throw new FeteError('INVALID_OPTIONS', `schedule: a name is 1 to 100 letters, digits, _ or -, got ${JSON.stringify(name)}`);
  return name;
}

export class Scheduler {
  readonly #schedules = new Map<string, Declared>();
  #started = false;
  #stopped = false;

  constructor(private readonly deps: SchedulerDeps) {}

  /** Declares a schedule (see Fete.schedule). Returns its parsed spec. */
  declare(
    name: string,
    specArg: ScheduleSpec,
    target: ScheduleHandler | { topic: unknown; payload: unknown },
    options: ScheduleOptions = {},
  ): ParsedSpec {
    checkScheduleName(name);
    if (this.#schedules.has(name)) throw new FeteError('CONFLICT', `a schedule named "${name}" is already declared`);
    const spec = parseSpec(specArg);
    const catchUp = options.catchUp ?? 'last';
    if (catchUp !== 'none' && catchUp !== 'last' && catchUp !== 'all') throw new FeteError('INVALID_OPTIONS', `schedule: catchUp must be 'none', 'last' or 'all'`);
    const handler = typeof target === 'function' ? target : undefined;
    if (!handler && (typeof target !== 'object' || target === null || !('topic' in target)))
      throw new FeteError('INVALID_OPTIONS', 'schedule: the target is a handler function or { topic, payload }');
    if (spec.kind === 'adaptive' && !handler)
      throw new FeteError('INVALID_OPTIONS', 'schedule: an adaptive schedule needs a handler (its result sets the next interval)');
    const d: Declared = {
      name,
      spec,
      catchUp,
      handler,
      topic: handler ? undefined : (target as { topic: unknown }).topic,
      payload: handler ? undefined : (target as { payload: unknown }).payload,
      timer: undefined,
      last: undefined,
      running: false,
    };
    this.#schedules.set(name, d);
    if (this.#started) void this.#begin(d);
    return spec;
  }

  /** Starts ticking every declared schedule (and those declared later). */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    for (const d of this.#schedules.values()) void this.#begin(d);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const d of this.#schedules.values()) clearTimeout(d.timer);
  }

  /** The tick event of a handler schedule (its id makes racing appends one). */
  tickEnvelope(name: string, tick: number): Envelope {
    return {
      id: derivedId('fete-schedule', name, String(tick)),
      topic: scheduleTopic(name),
      subject: scheduleTopic(name),
      time: new Date().toISOString(),
      headers: {},
      payload: { schedule: name, tick: new Date(tick) },
      context: {},
    };
  }

  /** Runs a handler schedule's tick (called by its listener): the handler, then the bookkeeping
   * (adaptive: the next interval from its result; a failed last attempt grows it). */
  async run(name: string, payload: unknown, ctx: ListenerContext<never>, lastAttempt: boolean): Promise<void> {
    const d = this.#schedules.get(name);
    if (!d?.handler) throw new FeteError('NOT_FOUND', `schedule "${name}" is not declared in this process`);
    const p = payload as { tick: Date | string };
    let result: unknown;
    try {
      result = await d.handler({ schedule: name, tick: new Date(p.tick) }, ctx);
    } catch (err) {
      if (lastAttempt && d.spec.kind === 'adaptive') await this.#plan(d, undefined);
      throw err;
    }
    if (d.spec.kind === 'adaptive') await this.#plan(d, typeof result === 'number' && Number.isFinite(result) ? result : 0);
    else await this.deps.state.ran(name).catch((err: Error) => debug('recording run of %s failed: %s', name, err.message));
  }

  async stats(): Promise<ScheduleStats[]> {
    const rows = await this.deps.state.list();
    const iso = (v: number | undefined) => (v === undefined ? null : new Date(v).toISOString());
    return rows.map((r) => {
      const d = this.#schedules.get(r.name);
      const kind = d?.spec.kind ?? ('cron' in r.spec ? 'cron' : 'everyMs' in r.spec ? 'every' : 'adaptive');
      return {
        name: r.name,
        kind,
        spec: r.spec,
        local: d !== undefined,
        lastTick: iso(r.lastTick),
        lastRunAt: iso(r.lastRunAt),
        nextRunAt: iso(r.nextRunAt),
        intervalMs: r.intervalMs ?? null,
      };
    });
  }

  async #plan(d: Declared, changed: number | undefined): Promise<void> {
    if (d.spec.kind !== 'adaptive') return;
    const { intervalMs } = await this.deps.state.due(d.name);
    const next = nextInterval(d.spec, intervalMs ?? d.spec.minMs, changed);
    await this.deps.state.planned(d.name, next);
    debug('adaptive %s: changed %s, next in %d ms', d.name, changed ?? 'error', next);
    // This process knows the next run first: arm for it now rather than at the next look.
    if (this.#started && !this.#stopped) this.#arm(d, next);
  }

  async #begin(d: Declared): Promise<void> {
    try {
      const row = await this.deps.state.declare(d.name, d.spec.json, d.spec.kind === 'adaptive' ? d.spec.minMs : undefined);
      if (d.spec.kind === 'adaptive') return this.#adaptiveLook(d);
      const now = Date.now();
      if (row.lastTick !== undefined) await this.#catchUp(d, row.lastTick, now);
      d.last = Math.max(d.last ?? now, now);
      this.#armFixed(d);
    } catch (err) {
      debug('schedule %s could not start (retried in %d ms): %s', d.name, this.deps.pollIntervalMs, (err as Error).message);
      if (!this.#stopped) d.timer = setTimeout(() => void this.#begin(d), this.deps.pollIntervalMs).unref();
    }
  }

  /** Missed ticks in (after, until], per the catch-up policy. */
  async #catchUp(d: Declared, after: number, until: number): Promise<void> {
    if (d.spec.kind === 'adaptive') return;
    const missed: number[] = [];
    for (let t = nextTick(d.spec, after); t !== undefined && t <= until; t = nextTick(d.spec, t)) {
      missed.push(t);
      if (missed.length > MAX_CATCH_UP) missed.shift();
    }
    if (missed.length === 0) return;
    if (d.catchUp === 'none') {
      // Skipped ticks count as handled: a later restart does not find them missed again.
      const last = missed.at(-1)!;
      await this.deps.state.ticked(d.name, last, nextTick(d.spec, last));
      debug('schedule %s: skipped %d missed ticks (catchUp none)', d.name, missed.length);
      return;
    }
    const ticks = d.catchUp === 'last' ? missed.slice(-1) : missed;
    debug('schedule %s: %d missed ticks, running %d (catchUp %s)', d.name, missed.length, ticks.length, d.catchUp);
    await this.#append(d, ticks);
  }

  #armFixed(d: Declared): void {
    if (this.#stopped || d.spec.kind === 'adaptive') return;
    const next = nextTick(d.spec, d.last!);
    if (next === undefined) return;
    clearTimeout(d.timer);
    d.timer = setTimeout(() => void this.#fireFixed(d, next), Math.max(1, next - Date.now()));
  }

  async #fireFixed(d: Declared, tick: number): Promise<void> {
    if (this.#stopped || d.spec.kind === 'adaptive') return;
    // A timer fires a little early by the wall clock at times: wait for the tick itself.
    if (Date.now() < tick) {
      d.timer = setTimeout(() => void this.#fireFixed(d, tick), Math.max(1, tick - Date.now()));
      return;
    }
    try {
      // Ticks between the last one and this one were missed (a stalled event loop): catch-up.
      await this.#catchUp(d, d.last!, tick - 1);
      await this.#append(d, [tick]);
      d.last = tick;
    } catch (err) {
      debug('schedule %s: tick %s failed, retried: %s', d.name, new Date(tick).toISOString(), (err as Error).message);
      d.timer = setTimeout(() => void this.#fireFixed(d, tick), Math.min(1000, this.deps.pollIntervalMs));
      return;
    }
    this.#armFixed(d);
  }

  async #append(d: Declared, ticks: number[]): Promise<void> {
    const envelopes = d.handler
      ? ticks.map((t) => this.tickEnvelope(d.name, t))
      : await Promise.all(
          ticks.map((t) =>
            this.deps.build(d.topic, typeof d.payload === 'function' ? (d.payload as (tick: Date) => unknown)(new Date(t)) : d.payload, derivedId('fete-schedule', d.name, String(t))),
          ),
        );
    await this.deps.append(envelopes);
    const last = ticks.at(-1)!;
    if (d.spec.kind !== 'adaptive') await this.deps.state.ticked(d.name, last, nextTick(d.spec, last));
  }

  #arm(d: Declared, inMs: number): void {
    clearTimeout(d.timer);
    d.timer = setTimeout(() => void this.#adaptiveLook(d), Math.max(1, Math.ceil(inMs)));
  }

  /** Adaptive: take the run if it is due, else look again when it should be (or at the poll). */
  async #adaptiveLook(d: Declared): Promise<void> {
    if (this.#stopped || d.spec.kind !== 'adaptive') return;
    try {
      // Until the run plans the next one: a run lost with its process is taken again after this.
      const tick = await this.deps.state.takeDue(d.name, Math.max(d.spec.maxMs * 2, 60_000));
      if (tick !== undefined) await this.#append(d, [tick]);
      const { inMs } = await this.deps.state.due(d.name);
      this.#arm(d, Math.min(inMs ?? this.deps.pollIntervalMs, this.deps.pollIntervalMs));
    } catch (err) {
      debug('adaptive %s: look failed: %s', d.name, (err as Error).message);
      this.#arm(d, this.deps.pollIntervalMs);
    }
  }
}
