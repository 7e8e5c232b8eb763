// fete.express() options: one interface, a `@default` on every field, and the one place the
// defaults are merged (`resolveHttpOptions`). Authentication, authorization and tenants are not
// here: every route uses the fete's one `security` config (createFete). The inspector and the
// metrics are off unless given their own authorization.
import type { Request } from 'express';
import { DEFAULT_MAX_ENVELOPE_BYTES, FeteError, PROTOCOL_LIMITS } from '../../shared/index.js';
import type { FanoutPrincipal, FanoutStats } from '../fanout/types.js';

/** May this authenticated caller use the inspector (or the metrics)? true allows; false answers
 * 403; a throw answers 401 (a thrown FeteError keeps its code). `principal` is what
 * `security.auth` returned (undefined with `auth: 'anonymous'`). */
export type RequestGuard<P = FanoutPrincipal> = (principal: P, req: Request) => boolean | Promise<boolean>;

export interface InspectorOptions<P = FanoutPrincipal> {
  /** Who may use the inspector (after `security.auth`). Retrying a dead letter (POST) needs it too. */
  authorize: RequestGuard<P>;
  /** Who may also see what events carry server-side: their captured context (the emitter's
   * principal...) and dead letters' full error text (stacks). @default nobody: contexts are
   * emptied and only an error's first line is shown */
  reveal?: RequestGuard<P>;
}

export interface StreamOptions {
  /** A `: ping` comment this often keeps proxies from closing an idle stream. @default 15_000 */
  heartbeatMs?: number;
  /** Read the log this often even without an append notification (missed NOTIFY), in ms: the
   * node's live tail (shared with `attach`, which takes the shorter of the two; with the NATS bus
   * the bus's `pollIntervalMs` rules it) and each replay. @default 1000 */
  pollIntervalMs?: number;
  /** Events read per page of a replay (a resume, a catch-up); also the most written before waiting
   * for the socket to drain. @default 100 */
  pageSize?: number;
  /** Bytes a live stream may have waiting in its response (the client reads slower than events
   * come) before it stops taking events from the node's tail and catches up from the log instead,
   * a page at a time as the client drains; no event is lost. @default 1 MiB */
  maxBufferedBytes?: number;
  /** The `retry:` reconnection delay told to EventSource. @default 2000 */
  retryMs?: number;
}

export interface ExpressOptions<P = FanoutPrincipal> {
  /** Largest POST /emit body in bytes (413 beyond). @default 1 MiB */
  maxBodyBytes?: number;
  /** Largest single envelope in bytes once encoded (rejected TOO_LARGE beyond). @default 1 MiB */
  maxPayloadBytes?: number;
  /** Most envelopes in one POST /emit (413 beyond). @default 100 (PROTOCOL_LIMITS.maxEmitBatch) */
  maxBatch?: number;
  /** Server-Sent Events on GET /stream. @default see StreamOptions */
  stream?: StreamOptions;
  /** The JSON inspector API under /inspector (every event's payload, dead letters, retry): off
   * (404) unless given `{ authorize }`; callers see their own tenant's events only. @default false */
  inspector?: false | InspectorOptions<P>;
  /** GET /metrics: off (404), `'public'` (no authentication: for a scraper on a private network),
   * or `{ authorize }` (after `security.auth`). @default false */
  metrics?: false | 'public' | { authorize: RequestGuard<P> };
  /** GET /health answers 503 when the store does not answer within this. @default 5000 */
  healthTimeoutMs?: number;
  /** The Socket.IO fanout's counters for /metrics (connected sockets, events sent...).
   * @default `fete.fanoutStats()` (every fanout this fete attached, summed) */
  fanoutStats?: () => FanoutStats | undefined;
}

export interface ResolvedExpressOptions {
  maxBodyBytes: number;
  maxPayloadBytes: number;
  maxBatch: number;
  stream: Required<StreamOptions>;
  /** undefined: off. */
  inspector: { authorize: RequestGuard; reveal: RequestGuard } | undefined;
  /** undefined: off; 'public': no authentication. */
  metrics: RequestGuard | 'public' | undefined;
  healthTimeoutMs: number;
  fanoutStats: (() => FanoutStats | undefined) | undefined;
}

function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v < 1) throw new FeteError('INVALID_OPTIONS', `express: ${name} must be a number >= 1, got ${v}`);
  return v;
}

const nobody: RequestGuard = () => false;

function inspectorOption(o: unknown): ResolvedExpressOptions['inspector'] {
  if (o === undefined || o === false) return undefined;
  const i = o as InspectorOptions;
  if (o === null || typeof o !== 'object' || typeof i.authorize !== 'function' || (i.reveal !== undefined && typeof i.reveal !== 'function'))
    throw new FeteError('INVALID_OPTIONS', 'express: inspector must be false or { authorize(principal, req), reveal?(principal, req) }');
  return { authorize: i.authorize, reveal: i.reveal ?? nobody };
}

function metricsOption(o: unknown): ResolvedExpressOptions['metrics'] {
  if (o === undefined || o === false) return undefined;
  if (o === 'public') return 'public';
  const authorize = (o as { authorize?: unknown } | null)?.authorize;
  if (typeof authorize !== 'function') throw new FeteError('INVALID_OPTIONS', "express: metrics must be false, 'public' or { authorize(principal, req) }");
  return authorize as RequestGuard;
}

export function resolveHttpOptions<P>(o: ExpressOptions<P> = {}): ResolvedExpressOptions {
  // Left over from when express took its own auth: refused loudly rather than silently ignored.
  for (const k of ['auth', 'authorize'] as const)
    if (k in o) throw new FeteError('INVALID_OPTIONS', `express: ${k} moved to createFete({ security: { ${k} } }), shared by every door`);
  const s = o.stream ?? {};
  return {
    maxBodyBytes: positive('maxBodyBytes', o.maxBodyBytes ?? 1024 * 1024),
    maxPayloadBytes: positive('maxPayloadBytes', o.maxPayloadBytes ?? DEFAULT_MAX_ENVELOPE_BYTES),
    maxBatch: positive('maxBatch', o.maxBatch ?? PROTOCOL_LIMITS.maxEmitBatch),
    stream: {
      heartbeatMs: positive('stream.heartbeatMs', s.heartbeatMs ?? 15_000),
      pollIntervalMs: positive('stream.pollIntervalMs', s.pollIntervalMs ?? 1000),
      pageSize: positive('stream.pageSize', s.pageSize ?? 100),
      retryMs: positive('stream.retryMs', s.retryMs ?? 2000),
      maxBufferedBytes: positive('stream.maxBufferedBytes', s.maxBufferedBytes ?? 1024 * 1024),
    },
    inspector: inspectorOption(o.inspector),
    metrics: metricsOption(o.metrics),
    healthTimeoutMs: positive('healthTimeoutMs', o.healthTimeoutMs ?? 5000),
    fanoutStats: o.fanoutStats,
  };
}
