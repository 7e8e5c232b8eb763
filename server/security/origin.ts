// Cross-site handshakes. A browser sends a site's cookies with any WebSocket handshake to it, also
// one opened by another site's script, and WebSockets have no CORS preflight (Socket.IO's `cors`
// answers only long-polling requests). An app whose `auth` reads a session cookie would let any
// page the user visits act as the user. So a browser handshake (it carries `Origin`) from another
// origin than the server's is refused unless `attach(http, { cors: { origin } })` names it: the
// same list that lets such a page poll. The HTTP door keeps the same promise its own way
// (http/json-body.ts: only application/json, which needs a preflight).
import type { ServerOptions } from 'socket.io';
import { FeteError } from '../../shared/index.js';

type Cors = ServerOptions['cors'];
type Headers = Record<string, string | string[] | undefined>;

function first(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return s?.split(',')[0]?.trim() || undefined;
}

/** The server's own host as the browser saw it: X-Forwarded-Host (a proxy) or Host. */
function ownHost(headers: Headers): string | undefined {
  return (first(headers['x-forwarded-host']) ?? first(headers.host))?.toLowerCase();
}

function parseOrigin(origin: string): { host: string; protocol: string } | undefined {
  try {
    const u = new URL(origin);
    return { host: u.host.toLowerCase(), protocol: u.protocol };
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

/** Does Socket.IO's `cors.origin` allow `origin`? (true, '*', a string, a RegExp, a list of
 * these, or Socket.IO's callback function.) */
async function corsAllows(cors: Cors, origin: string, request: unknown): Promise<boolean> {
  if (typeof cors === 'function') {
    // Socket.IO's per-request delegate: ask it for this request's options.
    const options = await new Promise<Cors>((resolve) => {
      try {
        (cors as (req: unknown, cb: (err: Error | null, o?: Cors) => void) => void)(request, (err, o) => resolve(err ? undefined : o));
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

/** Throws FORBIDDEN for a browser handshake from another origin that `cors` does not allow.
 * Handshakes without `Origin` (Node clients, tools) are not browsers' and pass. */
export async function assertSameOriginOrAllowed(headers: Headers, cors: Cors, request?: unknown): Promise<void> {
  const origin = first(headers.origin);
  if (origin === undefined) return;
  const parsed = parseOrigin(origin);
  // Same host, and not a plain-http page of a site served over TLS (another origin: a page an
  // attacker on the network can write).
  if (parsed !== undefined && parsed.host === ownHost(headers) && !(parsed.protocol === 'http:' && servedOverTls(headers, request))) return;
  if (await corsAllows(cors, origin, request)) return;
  throw new FeteError(
    'FORBIDDEN',
    `a handshake from ${JSON.stringify(origin.slice(0, 200))}, another site, is refused: a page there could act with this site's cookies. Allow the origins of your pages with fete.attach(http, { cors: { origin: [...] } })`,
  );
}
