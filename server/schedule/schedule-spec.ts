// What a schedule's `spec` may be, checked once: a cron expression (croner; optional time zone),
// a fixed interval, or an adaptive interval. Fixed specs give every process the same ticks
// (cron times; multiples of `everyMs` since the epoch), which is what lets racing processes agree
// on "the tick at T" and append it once.
import { Cron } from 'croner';
import { FeteError } from '../../shared/index.js';

/** A cron expression (5 or 6 fields, croner syntax), evaluated in `timezone` (IANA name). */
export interface CronSpec {
  cron: string;
  /** @default the process's time zone */
  timezone?: string;
}

/** Every `everyMs` ms, at multiples of it since the epoch (so every process ticks together). */
export interface EverySpec {
  everyMs: number;
}

/**
 * Adaptive (gala's Schedule): the next run comes `interval` ms after the previous one ended. The
 * handler returns how many records it changed: work done shrinks the interval toward `minMs`
 * (divided by `backoffFactor`), an idle (0) or failed run grows it toward `maxMs` (multiplied by
 * `backoffFactor`), and `highDrift` or more changes snap it to `minMs` at once (a burst: poll fast).
 */
export interface AdaptiveSpec {
  minMs: number;
  maxMs: number;
  /** @default 2 */
  backoffFactor?: number;
  /** Changes in one run from which the interval snaps to minMs. @default Infinity (never) */
  highDrift?: number;
}

export type ScheduleSpec = string | CronSpec | EverySpec | AdaptiveSpec;

export type ParsedSpec =
  | { kind: 'cron'; text: string; timezone: string | undefined; cron: Cron; json: Record<string, unknown> }
  | { kind: 'every'; everyMs: number; json: Record<string, unknown> }
  | { kind: 'adaptive'; minMs: number; maxMs: number; backoffFactor: number; highDrift: number; json: Record<string, unknown> };

function bad(message: string): FeteError {
  return new FeteError('INVALID_OPTIONS', `schedule: ${message}`);
}

function ms(name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw bad(`${name} must be a number of ms >= ${min}, got ${String(v)}`);
  return v;
}

export function parseSpec(spec: ScheduleSpec): ParsedSpec {
  if (typeof spec === 'string') spec = { cron: spec };
  if (typeof spec !== 'object' || spec === null) throw bad('spec must be a cron string, { cron, timezone }, { everyMs } or { minMs, maxMs }');
  if ('cron' in spec) {
    if (typeof spec.cron !== 'string') throw bad('cron must be a string');
    let cron: Cron;
    try {
      cron = new Cron(spec.cron, { paused: true, ...(spec.timezone === undefined ? {} : { timezone: spec.timezone }) });
      cron.nextRun(); // an unknown time zone throws here
    } catch (err) {
      throw new FeteError('INVALID_OPTIONS', `schedule: invalid cron ${JSON.stringify(spec.cron)}${spec.timezone ? ` in ${spec.timezone}` : ''}: ${(err as Error).message}`, { cause: err });
    }
    return { kind: 'cron', text: spec.cron, timezone: spec.timezone, cron, json: { cron: spec.cron, timezone: spec.timezone ?? null } };
  }
  if ('everyMs' in spec) {
    const everyMs = ms('everyMs', spec.everyMs, 10);
    return { kind: 'every', everyMs, json: { everyMs } };
  }
  if ('minMs' in spec || 'maxMs' in spec) {
    const minMs = ms('minMs', spec.minMs, 10);
    const maxMs = ms('maxMs', spec.maxMs, minMs);
    const backoffFactor = spec.backoffFactor ?? 2;
    if (typeof backoffFactor !== 'number' || !(backoffFactor > 1)) throw bad(`backoffFactor must be a number > 1, got ${String(backoffFactor)}`);
    const highDrift = spec.highDrift ?? Infinity;
    if (typeof highDrift !== 'number' || !(highDrift > 0)) throw bad(`highDrift must be a number > 0, got ${String(highDrift)}`);
    return { kind: 'adaptive', minMs, maxMs, backoffFactor, highDrift, json: { minMs, maxMs, backoffFactor, highDrift: Number.isFinite(highDrift) ? highDrift : null } };
  }
  throw bad('spec must be a cron string, { cron, timezone }, { everyMs } or { minMs, maxMs }');
}

/** The first tick strictly after `afterMs` (epoch ms) of a fixed spec; undefined if none (a cron
 * that never fires again). */
export function nextTick(spec: Exclude<ParsedSpec, { kind: 'adaptive' }>, afterMs: number): number | undefined {
  if (spec.kind === 'every') return (Math.floor(afterMs / spec.everyMs) + 1) * spec.everyMs;
  return spec.cron.nextRun(new Date(afterMs))?.getTime();
}

/** The adaptive interval after a run: `changed` records (undefined: the run failed). */
export function nextInterval(spec: Extract<ParsedSpec, { kind: 'adaptive' }>, current: number, changed: number | undefined): number {
  if (changed !== undefined && changed >= spec.highDrift) return spec.minMs;
  const next = changed !== undefined && changed > 0 ? current / spec.backoffFactor : current * spec.backoffFactor;
  return Math.min(spec.maxMs, Math.max(spec.minMs, next));
}
