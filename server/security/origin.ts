// Other sites, at every browser door. A browser sends a site's cookies with a request to it that a
// page of another site makes: a WebSocket handshake (no CORS preflight; Socket.IO's `cors` answers
// only long-polling requests), an EventSource or <img> GET, a form POST. An app whose `auth` reads
// a session cookie would let any page the user visits act as the user: open a socket, make them
// present (`GET /stream` on a presence subject), spend their stream budget. So a request that
// carries `Origin` (browsers send it on every cross-site request, and on every handshake) from
// another origin than the server's is refused FORBIDDEN unless `security.origins` allows it: one
// rule, checked here, by the Socket.IO handshake (fanout/attach.ts) and by the first middleware of
// `fete.express()` (http/express-middleware.ts), before `auth` or any work.
import type { ServerOptions } from 'socket.io';
import { FeteError } from '../../shared/index.js';

/** The origins, besides the server's own, whose pages may use fete's doors. A list of origins
 * (`'https://shop.example'`: scheme, host and port, no path) and RegExps (tested against the
 * request's origin as `scheme://host[:port]`, lower case, default port left out), or a predicate
 * given that same string (a throw or a rejection refuses). `Origin: null` (sandboxed iframes,
 * file:// pages) is another site that no list allows: only a predicate can admit it. */
export type AllowedOrigins = ReadonlyArray<string | RegExp> | ((origin: string) => boolean | Promise<boolean>);

/** Socket.IO's `cors` option (attach's `cors`), honoured by the socket door's check for apps that
 * allowed origins there before `security.origins` existed. */
export type SocketCors = ServerOptions['cors'];

type Headers = Record<string, string | string[] | undefined>;

/** Whether a resolved `security.origins` allows an origin (normalized, or 'null'). Never throws. */
export type OriginAllows = (origin: string) => Promise<boolean>;

function first(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return s?.split(',')[0]?.trim() || undefined;
}

/** The server's own host as the browser saw it: X-Forwarded-Host (a proxy) or Host. */
function ownHost(headers: Headers): string | undefined {
  return (first(headers['x-forwarded-host']) ?? first(headers.host))?.toLowerCase();
}

/** `scheme://host[:port]` of a URL-like origin, or undefined when it is opaque ('null') or not one. */
function originOf(text: string): { origin: string; host: string; protocol: string } | undefined {
  try {
    const u = new URL(text);
    if (u.origin === 'null') return undefined;
    return { origin: u.origin, host: u.host.toLowerCase(), protocol: u.protocol };
  } catch {
    return undefined;
  }
}

/** Whether the browser reached this server over TLS, when that is known: X-Forwarded-Proto (a
 * proxy), else the connection itself. A plain connection may still be TLS at a proxy that does
 * not say so: unknown, not "http". */
function servedOverTls(headers: Headers, request: unknown): boolean {
  const proto = first(headers['x-forwarded-proto'])?.toLowerCase();
  if (proto !== undefined) return proto === 'https' || proto === 'wss';
  return (request as { socket?: { encrypted?: boolean } } | undefined)?.socket?.encrypted === true;
}

/** 'https://a.example' or 'https://a.example:8443/': nothing but scheme, host and port. */
function isBareOrigin(text: string): boolean {
  const u = new URL(text);
  return u.pathname === '/' && !u.search && !u.hash && !u.username && !u.password && !text.includes('*') && /^[a-z][a-z0-9+.-]*:\/\/[^/]+\/?$/i.test(text);
}

const SHAPE = 'security.origins must be a list of origins (strings like "https://shop.example") and RegExps, or a function (origin) => boolean';

/** Validates `security.origins` once, at createFete. @default none: the server's own origin only.
 * @throws FeteError INVALID_OPTIONS for anything but the shapes of AllowedOrigins, or a string that
 * is not an origin (a path, a wildcard, 'null'). */
export function resolveOrigins(option: AllowedOrigins | undefined): OriginAllows {
  if (option === undefined) return async () => false;
  if (typeof option === 'function') {
    return async (origin) => {
      try {
        return (await option(origin)) === true;
      } catch {
        return false;
      }
    };
  }
  if (!Array.isArray(option)) throw new FeteError('INVALID_OPTIONS', SHAPE);
  const exact = new Set<string>();
  const patterns: RegExp[] = [];
  for (const rule of option as ReadonlyArray<unknown>) {
    if (rule instanceof RegExp) {
      // Without g/y: RegExp#test with them keeps state between calls (lastIndex).
      patterns.push(new RegExp(rule.source, rule.flags.replace(/[gy]/g, '')));
    } else if (typeof rule === 'string') {
      const parsed = originOf(rule);
      if (parsed === undefined || !isBareOrigin(rule))
        throw new FeteError('INVALID_OPTIONS', `${SHAPE}: ${JSON.stringify(rule.slice(0, 200))} is not an origin (scheme://host[:port], no path)`);
      exact.add(parsed.origin);
    } else throw new FeteError('INVALID_OPTIONS', SHAPE);
  }
  return async (origin) => origin !== 'null' && (exact.has(origin) || patterns.some((p) => p.test(origin)));
}

/** Socket.IO's CORS answers (long-polling from another origin) from `security.origins`, when attach
 * is given no `cors` of its own: one list says both who may connect and whom the browser lets read. */
export function socketCorsOf(allows: OriginAllows): NonNullable<SocketCors> {
  return {
    origin: (origin: string | undefined, callback: (err: Error | null, allow?: boolean) => void) => {
      if (origin === undefined) return callback(null, false);
      void allows(originOf(origin)?.origin ?? 'null').then((ok) => callback(null, ok));
    },
    credentials: true,
  };
}

/** Does Socket.IO's `cors.origin` allow `origin`? (true, '*', a string, a RegExp, a list of
 * these, or Socket.IO's callback function.) */
async function corsAllows(cors: SocketCors, origin: string, request: unknown): Promise<boolean> {
  if (typeof cors === 'function') {
    // Socket.IO's per-request delegate: ask it for this request's options.
    const options = await new Promise<SocketCors>((resolve) => {
      try {
        (cors as (req: unknown, cb: (err: Error | null, o?: SocketCors) => void) => void)(request, (err, o) => resolve(err ? undefined : o));
      } catch {
        resolve(undefined);
      }
    });
    return typeof options === 'function' ? false : corsAllows(options, origin, request);
  }
  const allowed = cors?.origin;
  if (allowed === undefined || allowed === false) return false;
  if (typeof allowed === 'function') {
    return new Promise((resolve) => {
      try {
        (allowed as (o: string, cb: (err: Error | null, ok?: unknown) => void) => void)(origin, (err, ok) =>
          resolve(!err && (ok === true || ok === '*' || ok === origin || (Array.isArray(ok) && ok.includes(origin)))),
        );
      } catch {
        resolve(false);
      }
    });
  }
  const one = (a: unknown): boolean => a === true || a === '*' || a === origin || (a instanceof RegExp && a.test(origin));
  return Array.isArray(allowed) ? allowed.some(one) : one(allowed);
}

/**
 * The one check of both doors. Passes a request without `Origin` (servers, curl, and most
 * browsers' same-origin GETs) unless its `Sec-Fetch-Site` says another site sent it, one from the server's own origin (same host as Host or
 * X-Forwarded-Host, and not a plain-http page of a site served over TLS), and one whose origin
 * `allows` admits; on the socket door, also one that attach's legacy `cors.origin` admits.
 * @throws FeteError FORBIDDEN for any other request that carries `Origin`, `Origin: null` included.
 */
export async function assertOriginAllowed(allows: OriginAllows, headers: Headers, request?: unknown, legacyCors?: SocketCors): Promise<void> {
  const raw = headers.origin;
  if (raw === undefined) {
    // Browsers leave `Origin` out of a no-cors GET (an <img>, a <script>, a link), but say where it
    // came from in Sec-Fetch-Site: another site's <img src=/fete/stream?...> would otherwise pass.
    const site = first(headers['sec-fetch-site'])?.toLowerCase();
    if (site !== 'cross-site' && site !== 'same-site') return;
    throw new FeteError('FORBIDDEN', `a ${site} request without Origin (an <img>, a <script>, a link from another page) is refused: a page there could act with this site's cookies`);
  }
  const text = (Array.isArray(raw) ? raw.join(',') : raw).trim();
  const parsed = originOf(text);
  if (parsed !== undefined) {
    if (parsed.host === ownHost(headers) && !(parsed.protocol === 'http:' && servedOverTls(headers, request))) return;
    if (await allows(parsed.origin)) return;
    if (legacyCors !== undefined && (await corsAllows(legacyCors, text, request))) return;
  } else if (text === 'null' && (await allows('null'))) return;
  throw new FeteError(
    'FORBIDDEN',
    `a request from ${JSON.stringify(text.slice(0, 200))}, another site, is refused: a page there could act with this site's cookies. Allow the origins of your pages with createFete({ security: { origins: [...] } }) (not attach's cors)`,
  );
}
