// fete.express() options: one interface, a `@default` on every field, and the one place the
// defaults are merged (`resolveHttpOptions`). Authorization mirrors `fete.attach`: the same
// `auth`/`authorize` shapes, deny-by-default for emits.
import type { Request } from 'express';
import { DEFAULT_MAX_ENVELOPE_BYTES, FeteError, PROTOCOL_LIMITS } from '../../shared/index.js';
import type { FanoutAuthorize, FanoutPrincipal, FanoutStats } from '../fanout/types.js';

/** Who may look at the inspector (or the metrics): true when allowed. */
export type RequestGuard = (req: Request) => boolean | Promise<boolean>;

/** Authenticates a request: returns the principal; throwing (or returning undefined, null or
 * false) answers 401 (a thrown FeteError keeps its code and status), as `attach`'s `auth` does. */
export type HttpAuth<P = FanoutPrincipal> = (req: Request) => P | Promise<P>;

export interface StreamOptions {
  /** A `: ping` comment this often keeps proxies from closing an idle stream. @default 15_000 */
  heartbeatMs?: number;
  /** Read the log this often even without an append notification (missed NOTIFY). @default 1000 */
  pollIntervalMs?: number;
  /** Events read per page; also the most written before waiting for the socket to drain. @default 100 */
  pageSize?: number;
  /** The `retry:` reconnection delay told to EventSource. @default 2000 */
  retryMs?: number;
}

export interface ExpressOptions<P = FanoutPrincipal> {
  /** Authenticates each request (see HttpAuth). @default every request is accepted with principal `undefined` */
  auth?: HttpAuth<P>;
  /** Per-action authorization, the same hooks as `fete.attach`'s. @default subscribe: allow; emit: deny */
  authorize?: FanoutAuthorize<P>;
  /** Largest POST /emit body in bytes (413 beyond). @default 1 MiB */
  maxBodyBytes?: number;
  /** Largest single envelope in bytes once encoded (rejected TOO_LARGE beyond). @default 1 MiB */
  maxPayloadBytes?: number;
  /** Most envelopes in one POST /emit (413 beyond). @default 100 (PROTOCOL_LIMITS.maxEmitBatch) */
  maxBatch?: number;
  /** Server-Sent Events on GET /stream. @default see StreamOptions */
  stream?: StreamOptions;
  /** The JSON inspector API under /inspector: `true` open, `false` off (404), or a guard (403 when
   * it returns false). @default open unless NODE_ENV is 'production', then off */
  inspector?: boolean | { authorize: RequestGuard };
  /** GET /metrics: `true` open, `false` off (404), or a guard. @default true */
  metrics?: boolean | { authorize: RequestGuard };
  /** GET /health answers 503 when the store does not answer within this. @default 5000 */
  healthTimeoutMs?: number;
  /** The Socket.IO fanout's counters for /metrics (connected sockets, events sent...).
   * @default `fete.fanoutStats()` (every fanout this fete attached, summed) */
  fanoutStats?: () => FanoutStats | undefined;
}

export interface ResolvedExpressOptions {
  /** undefined: anonymous. */
  auth: HttpAuth | undefined;
  authorize: FanoutAuthorize;
  maxBodyBytes: number;
  maxPayloadBytes: number;
  maxBatch: number;
  stream: Required<StreamOptions>;
  /** undefined: off. */
  inspector: RequestGuard | undefined;
  metrics: RequestGuard | undefined;
  healthTimeoutMs: number;
  fanoutStats: (() => FanoutStats | undefined) | undefined;
}

function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v < 1) throw new FeteError('INVALID_OPTIONS', `express: ${name} must be a number >= 1, got ${v}`);
  return v;
}

const open: RequestGuard = () => true;

function guard(name: string, o: boolean | { authorize: RequestGuard } | undefined, fallback: boolean): RequestGuard | undefined {
  const v = o ?? fallback;
  if (v === true) return open;
  if (v === false) return undefined;
  if (typeof v?.authorize !== 'function') throw new FeteError('INVALID_OPTIONS', `express: ${name} must be a boolean or { authorize(req) }`);
  return v.authorize;
}

export function resolveHttpOptions<P>(o: ExpressOptions<P> = {}): ResolvedExpressOptions {
  const s = o.stream ?? {};
  return {
    auth: o.auth as HttpAuth | undefined,
    authorize: (o.authorize ?? {}) as FanoutAuthorize,
    maxBodyBytes: positive('maxBodyBytes', o.maxBodyBytes ?? 1024 * 1024),
    maxPayloadBytes: positive('maxPayloadBytes', o.maxPayloadBytes ?? DEFAULT_MAX_ENVELOPE_BYTES),
    maxBatch: positive('maxBatch', o.maxBatch ?? PROTOCOL_LIMITS.maxEmitBatch),
    stream: {
      heartbeatMs: positive('stream.heartbeatMs', s.heartbeatMs ?? 15_000),
      pollIntervalMs: positive('stream.pollIntervalMs', s.pollIntervalMs ?? 1000),
      pageSize: positive('stream.pageSize', s.pageSize ?? 100),
      retryMs: positive('stream.retryMs', s.retryMs ?? 2000),
    },
    // Read at creation: the inspector lists every topic, listener and dead letter's payload.
    inspector: guard('inspector', o.inspector, process.env.NODE_ENV !== 'production'),
    metrics: guard('metrics', o.metrics, true),
    healthTimeoutMs: positive('healthTimeoutMs', o.healthTimeoutMs ?? 5000),
    fanoutStats: o.fanoutStats,
  };
}
