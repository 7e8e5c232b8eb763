// Options of presence (`createFete({ presence })`), with their defaults merged in one place.
import { FeteError, PRESENCE_LIMITS } from '../../shared/index.js';

export interface PresenceOptions {
  /** How often this process refreshes its presence heartbeat and sweeps dead processes' rows.
   * @default 5000 */
  heartbeatMs?: number;
  /** A process whose heartbeat is older than this is dead: its members leave (at most about
   * `ttlMs + heartbeatMs` after it died). @default 15_000 */
  ttlMs?: number;
  /** Largest presence state a connection may set, in UTF-8 bytes of its JSON. @default 1024 */
  maxStateBytes?: number;
  /** State changes one socket may make per second (a burst of twice as many is allowed); past it
   * `pset` is answered RATE_LIMITED (retryable). Watches are limited to as many per second, with a
   * burst of 32 (a reconnect re-sends them all): per socket (`client.presence`), and per caller
   * over HTTP (`GET /presence`, JSON or SSE; 429 past it, and past 32 open watch streams).
   * @default 10 */
  maxStateUpdatesPerSecond?: number;
}

export type ResolvedPresenceOptions = Required<PresenceOptions>;

export function resolvePresenceOptions(o: PresenceOptions = {}): ResolvedPresenceOptions {
  if (o === null || typeof o !== 'object') throw new FeteError('INVALID_OPTIONS', 'presence must be an object');
  const n = (name: string, v: number | undefined, d: number, min: number) => {
    const x = v ?? d;
    if (!Number.isFinite(x) || x < min) throw new FeteError('INVALID_OPTIONS', `presence.${name} must be a number >= ${min}, got ${String(v)}`);
    return x;
  };
  const heartbeatMs = n('heartbeatMs', o.heartbeatMs, 5000, 10);
  const ttlMs = n('ttlMs', o.ttlMs, 3 * heartbeatMs, 20);
  if (ttlMs <= heartbeatMs) throw new FeteError('INVALID_OPTIONS', `presence.ttlMs (${ttlMs}) must be longer than presence.heartbeatMs (${heartbeatMs})`);
  return {
    heartbeatMs,
    ttlMs,
    maxStateBytes: n('maxStateBytes', o.maxStateBytes, PRESENCE_LIMITS.maxStateBytes, 2),
    maxStateUpdatesPerSecond: n('maxStateUpdatesPerSecond', o.maxStateUpdatesPerSecond, 10, 0.1),
  };
}
