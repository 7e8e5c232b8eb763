// The one security config of a fete server: who a caller is (`auth`), what they may do
// (`authorize`) and which tenant they belong to (`tenant`). Given once, to
// `createFete({ security })`; the Socket.IO handshake, HTTP emit, SSE, the inspector and the
// metrics all authenticate through it (security.ts). Closed by default: no `auth`, no entry.
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { AnyTopic } from '../../shared/index.js';
import type { AllowedOrigins } from './origin.js';

/** Where a caller comes in: a Socket.IO handshake, or an HTTP request (emit, stream, inspector, metrics). */
export type Door = 'socket' | 'http';

/** What `auth` is given to decide who is calling. */
export interface AuthRequest {
  door: Door;
  /** What the client presented: on a socket, Socket.IO's `handshake.auth` object (the browser
   * client's `auth` option); over HTTP, `{ token }` from an `Authorization: Bearer <token>` header,
   * or `{}` without one. The same `{ token }` shape on both doors lets one `auth` serve both. */
  credentials: Record<string, unknown>;
  /** The request's headers (the handshake's, for a socket). */
  headers: IncomingHttpHeaders;
  /** The HTTP request itself (an Express request over HTTP; the upgrade request for a socket). */
  request: IncomingMessage;
}

/** Returns the caller's principal. Throwing, or returning undefined, null or false, refuses the
 * caller: UNAUTHORIZED (401), unless a FeteError with another code is thrown (it is kept). */
export type Auth<P = unknown> = (request: AuthRequest) => P | Refused | Promise<P | Refused>;

/** What `auth` returns to refuse a caller without throwing. */
export type Refused = undefined | null | false;

/**
 * Authorization hooks. A hook returns true to allow; false denies with FORBIDDEN; a thrown
 * FeteError keeps its code, any other throw is answered INTERNAL (the client retries it later).
 */
export interface Authorize<P = unknown> {
  /** May `principal` subscribe to `pattern`? Asked after the pattern was found to match an exposed
   * topic; events still reach the principal only from its own tenant. @default allow */
  subscribe?(principal: P, pattern: string): boolean | Promise<boolean>;
  /** May `principal` emit this event? Called with the schema-validated payload, only for catalogue
   * topics declared `clientEmit: true` (never presentation topics). @default deny */
  emit?(principal: P, topic: AnyTopic, payload: unknown): boolean | Promise<boolean>;
  /** May `principal` run command or query `name` with this input? Called with the input as the
   * handler will get it (validated by the declaration's schema), before anything runs. @default deny */
  command?(principal: P, name: string, input: unknown, kind: 'command' | 'query'): boolean | Promise<boolean>;
}

export interface SecurityOptions<P = unknown> {
  /** Authenticates every caller at every door. `'anonymous'` lets everybody in with principal
   * `undefined` (demos, tests, trusted networks: say so in code). @default none: every door
   * refuses every caller with UNAUTHORIZED until `auth` is configured */
  auth?: Auth<P> | 'anonymous';
  /** Subscribe and emit authorization. @default subscribe: allow; emit: deny */
  authorize?: Authorize<P>;
  /** The tenant of a principal: the isolation unit of reads and writes. Browser and HTTP emits are
   * stamped with it (a client's `tenant` header is never trusted), every read path delivers only
   * the principal's tenant's events, and event ids and idempotency keys are unique per tenant.
   * undefined (or '') is the default tenant. At most 128 characters.
   * @default every principal is in the default tenant */
  tenant?: (principal: P) => string | undefined;
  /** The id under which a principal is shown to others by presence (`client.presence`): public,
   * unlike the principal itself (a user id the app already shows, a handle; never a secret). At
   * most 128 characters; undefined: the principal is never listed (it may still watch).
   * @default none: nobody is listed, and watching presence is refused with INVALID_OPTIONS */
  publicId?: (principal: P) => string | undefined;
  /** Origins, besides the server's own, whose pages may use every browser door: the Socket.IO
   * handshake and every route of `fete.express()`. A request carrying an `Origin` of any other
   * site (`Origin: null` included) is refused FORBIDDEN (403) before `auth` runs; requests without
   * `Origin` (servers, curl) pass, unless `Sec-Fetch-Site` says another site's page sent them. A list of origins (`'https://shop.example'`) and RegExps, or a
   * predicate `(origin) => boolean` (the only way to admit `'null'`). See security/origin.ts.
   * @default none: the server's own origin only
   * @throws FeteError INVALID_OPTIONS at createFete for another shape, or a string that is not an origin */
  origins?: AllowedOrigins;
}
