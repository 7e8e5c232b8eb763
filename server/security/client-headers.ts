// Headers the server owns: of the headers a client (browser socket, HTTP caller) sends with an
// emit, `actor` and `tenant` are dropped (they come from authentication), `traceparent` is kept
// only in W3C form (else dropped, and the trace context codec gives the event a fresh one), and
// every other header passes through within size limits. Called by ingress for every envelope that
// came from outside (ingress/admit-client.ts at admission, ingress/stamp-headers.ts at append).
import { FeteError, Headers } from '../../shared/index.js';

export const CLIENT_HEADER_LIMITS = {
  /** Most headers on one client emit. */
  maxCount: 32,
  /** Longest header name, in characters. */
  maxKeyLength: 64,
  /** Longest header value, in characters. */
  maxValueLength: 1024,
} as const;

/** Set by the server only: a client's value is never read. Besides these, every header a context
 * codec carries (`carried`, the app's own codecs included) except the W3C `traceparent`: its value
 * is restored as the app's context around listeners (probe3: a client's `x-role: admin` header
 * became the `role` context of an app codec carried in `x-role`). */
const SERVER_OWNED: readonly string[] = [Headers.actor, Headers.tenant];

/** W3C trace context: version 00, a 32-hex trace id and a 16-hex parent id, neither all zeros. */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;
const ZEROS = /^0+$/;

export function isValidTraceparent(value: string): boolean {
  const m = TRACEPARENT.exec(value);
  return m !== null && !ZEROS.test(m[1]!) && !ZEROS.test(m[2]!);
}

const NONE: ReadonlySet<string> = new Set();

/**
 * The headers of a client emit as the server keeps them: without the server-owned ones, nor those
 * in `carried` (the context codecs' headers, lowercased: `Contexts.carriedHeaders`). Throws TOO_LARGE when the client sent too
 * many headers or a name or value over the limits (CLIENT_HEADER_LIMITS), MALFORMED for an empty name.
 */
export function clientHeaders(headers: Readonly<Record<string, string>>, carried: ReadonlySet<string> = NONE): Record<string, string> {
  const entries = Object.entries(headers);
  const { maxCount, maxKeyLength, maxValueLength } = CLIENT_HEADER_LIMITS;
  if (entries.length > maxCount)
    throw new FeteError('TOO_LARGE', `at most ${maxCount} headers per event, got ${entries.length}`, { details: { maxCount } });
  const out: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (k.length === 0) throw new FeteError('MALFORMED', 'a header name must not be empty');
    if (k.length > maxKeyLength) throw new FeteError('TOO_LARGE', `header names are at most ${maxKeyLength} characters`, { details: { maxKeyLength } });
    if (v.length > maxValueLength)
      throw new FeteError('TOO_LARGE', `header "${k}" is longer than ${maxValueLength} characters`, { details: { header: k, maxValueLength } });
    // Names compared lowercased: a downstream reader that ignores case must not see a client's `Tenant`.
    const name = k.toLowerCase();
    if (SERVER_OWNED.includes(name)) continue;
    if (name === Headers.traceparent) {
      if (k !== name || !isValidTraceparent(v)) continue;
    } else if (carried.has(name)) continue;
    out[k] = v;
  }
  return out;
}
