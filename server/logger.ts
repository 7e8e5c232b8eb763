// fete's operational log: the `logger` option (any pino-compatible logger: `info/warn/error` with
// the fields object first, then the message), the default that writes warnings and errors to
// stderr one line each, and `LogEvents`, the one place where each thing fete reports is worded
// and rate-limited per kind (log-rate-limit.ts). Debug tracing stays on `debug` (DEBUG=fete:*);
// this log is for what an operator must see without asking: failed attempts, dead letters,
// refused connections, store outages and recoveries, deliveries waiting with no worker.
import { describeThrown } from '../shared/describe-thrown.js';
import { FeteError } from '../shared/index.js';
import { LogRateLimiter, type RateLimit } from './log-rate-limit.js';

/** A pino-compatible logger: pino, bunyan-style adapters or `console`-backed objects fit. */
export interface FeteLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** The `logger` option: a logger, `false` for silence, or undefined for stderr. */
export type LoggerOption = FeteLogger | false | undefined;

/** Formats one field value for a `key=value` line: bare when safe, JSON-quoted otherwise. */
function fieldText(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s !== undefined && /^[\w.:/@>*+-]+$/.test(s) ? s : JSON.stringify(s ?? String(v));
}

/** One line: `fete WARN <message> key=value ...`; newlines inside values are escaped by JSON. */
export function formatLine(level: string, fields: Record<string, unknown>, message: string): string {
  let line = `fete ${level.toUpperCase()} ${message}`;
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) line += ` ${k}=${fieldText(v)}`;
  return `${line}\n`;
}

/** The default: warnings and errors to stderr, one line each; info is dropped. The SDK writes to
 * the stream directly (no `console`), so it never interleaves half-lines with the app's output. */
export function stderrLogger(write: (line: string) => void = (l) => void process.stderr.write(l)): FeteLogger {
  return {
    info: () => undefined,
    warn: (fields, message) => write(formatLine('warn', fields, message)),
    error: (fields, message) => write(formatLine('error', fields, message)),
  };
}

const silent: FeteLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

export function resolveLogger(option: LoggerOption): FeteLogger {
  if (option === false) return silent;
  if (option === undefined) return stderrLogger();
  for (const level of ['info', 'warn', 'error'] as const)
    if (typeof option[level] !== 'function') throw new FeteError('INVALID_OPTIONS', `logger.${level} must be a function (a pino-compatible logger), or pass logger: false`);
  return option;
}

/** The message of any thrown value, on one line (stacks stay in dead letters and DEBUG). Goes
 * through describeThrown: never throws, even for a Proxy or a value whose getters throw. */
export function errorMessage(err: unknown): string {
  const line = describeThrown(err, { stack: false }).split('\n', 1)[0]!;
  return line.length > 500 ? `${line.slice(0, 500)}…` : line;
}

export interface ListenerRef {
  target: string;
  name: string;
}

export interface AttemptFailure {
  listener: ListenerRef;
  eventId: string;
  /** The store's delivery id (durable listeners); what `fete.retry` takes once it is dead. */
  deliveryId?: number | undefined;
  /** 1-based number of the attempt that failed. */
  attempt: number;
  /** Attempts allowed in all (retries + 1). */
  maxAttempts: number;
  error: unknown;
}

export interface Refusal {
  door: 'socket' | 'http';
  code: string;
  reason: string;
  method?: string | undefined;
  path?: string | undefined;
  address?: string | undefined;
}

/** How a failed attempt ended, as the dispatchers report it. */
export type FailureReport = AttemptFailure & ({ dead: true } | { dead: false; retryInMs: number });

/** What fete logs, each kind once per occurrence and rate-limited per kind. */
export class LogEvents {
  readonly #logger: FeteLogger;
  readonly #limiter: LogRateLimiter;

  constructor(logger: FeteLogger, limit?: RateLimit, now?: () => number) {
    this.#logger = logger;
    this.#limiter = new LogRateLimiter(limit, now);
  }

  #write(level: 'info' | 'warn' | 'error', kind: string, fields: Record<string, unknown>, message: string): void {
    const suppressed = this.#limiter.take(kind);
    if (suppressed === undefined) return;
    const out: Record<string, unknown> = { event: kind, ...fields };
    if (suppressed > 0) out.suppressed = suppressed;
    try {
      this.#logger[level](out, message);
    } catch {
      // A broken logger must not break the attempt, the socket or the request that reported.
    }
  }

  /** A failed attempt: a retry line, or a dead-letter line when it was the last one. */
  failure(f: FailureReport): void {
    if (f.dead) this.deadLetter(f);
    else this.attemptFailed(f);
  }

  /** An attempt failed and will be retried after `retryInMs`. */
  attemptFailed(f: AttemptFailure & { retryInMs: number }): void {
    this.#write('warn', 'attempt-failed', {
      listener: f.listener.name,
      target: f.listener.target,
      eventId: f.eventId,
      deliveryId: f.deliveryId,
      attempt: `${f.attempt}/${f.maxAttempts}`,
      retryInMs: f.retryInMs,
      error: errorMessage(f.error),
    }, 'listener attempt failed, will retry');
  }

  /** The last attempt failed: the delivery is a dead letter until `fete.retry(deliveryId)`. */
  deadLetter(f: AttemptFailure): void {
    this.#write('error', 'dead-letter', {
      listener: f.listener.name,
      target: f.listener.target,
      eventId: f.eventId,
      deliveryId: f.deliveryId,
      attempts: f.attempt,
      error: errorMessage(f.error),
    }, 'listener gave up: dead letter (see fete.deadLetters(), retry with fete.retry(id))');
  }

  /** A socket handshake or an HTTP request was refused (401/403). */
  refused(r: Refusal): void {
    this.#write('warn', `refused-${r.door}`, { ...r }, r.door === 'socket' ? 'refused a socket connection' : 'refused an HTTP request');
  }

  storeUnavailable(during: string, err: unknown): void {
    this.#write('error', 'store-unavailable', { during, error: errorMessage(err) }, 'the store is unavailable');
  }

  storeRecovered(downMs: number): void {
    // Warn, not info: it closes the outage line above, and the default logger drops info.
    this.#write('warn', 'store-recovered', { downMs }, 'the store is reachable again');
  }

  /** NATS cannot be reached (at start, or a connection lost): the node serves on the PostgreSQL
   * fallback and keeps trying. Once per outage. */
  busDegraded(f: { servers: string; atStart: boolean; error: string }): void {
    this.#write('warn', 'bus-degraded', { servers: f.servers, atStart: f.atStart, error: f.error }, f.atStart
      ? 'NATS is unreachable at start: serving on the PostgreSQL fallback, connecting in the background'
      : 'lost the NATS connection: serving on the PostgreSQL fallback until it is back');
  }

  busRecovered(f: { servers: string; downMs: number }): void {
    // Warn, not info: it closes the line above, and the default logger drops info.
    this.#write('warn', 'bus-recovered', { servers: f.servers, downMs: f.downMs }, 'NATS is reachable: the bus is back on NATS');
  }

  /** A command or query failed by surprise (INTERNAL: the handler threw; TIMEOUT; the store): the
   * caller got the code only, so the error itself is told here. Answers on purpose are not. */
  commandFailed(f: { kind: 'command' | 'query'; name: string; id: string; code: string; error: unknown }): void {
    this.#write('error', 'command-failed', {
      kind: f.kind,
      name: f.name,
      id: f.id,
      code: f.code,
      error: errorMessage(f.error),
    }, `${f.kind} failed`);
  }

  /** Deliveries wait in the store and no process has a worker running (nobody called start()). */
  noWorker(fields: { listener: ListenerRef; eventId: string; reason: string }): void {
    this.#write('warn', 'no-worker', {
      listener: fields.listener.name,
      target: fields.listener.target,
      eventId: fields.eventId,
      reason: fields.reason,
    }, 'deliveries are waiting but no worker is running: call fete.start() in a worker process');
  }
}
