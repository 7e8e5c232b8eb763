// The resolved security config (defaults merged here, once) and the one authentication path every
// door takes: `security.authenticate(request)` gives a Caller (principal + tenant) or throws
// UNAUTHORIZED. Socket.IO (fanout/attach.ts) and HTTP (http/authenticate.ts) only adapt their
// request to an AuthRequest.
import { keepableCause } from '../../shared/describe-thrown.js';
import { FeteError, isFeteError } from '../../shared/index.js';
import type { IncomingHttpHeaders } from 'node:http';
import type { Auth, AuthRequest, Authorize, SecurityOptions } from './security-options.js';
import { DEFAULT_TENANT, validTenant } from './tenant.js';
import { actorOf } from '../context/principal.js';
import { type OriginAllows, type SocketCors, assertOriginAllowed, resolveOrigins } from './origin.js';

/** Who is calling, as every door sees it after authentication. */
export interface Caller<P = unknown> {
  /** What `auth` returned (undefined for anonymous callers). */
  principal: P;
  /** The principal's tenant ('' is the default tenant). */
  tenant: string;
}

export interface Security {
  readonly authorize: Authorize<unknown>;
  /** The caller, or a FeteError: UNAUTHORIZED (or the code `auth` threw). Never anything else. */
  authenticate(request: AuthRequest): Promise<Caller>;
  /** The tenant of a principal (the `tenant` hook; '' without one). Throws INTERNAL if the hook fails. */
  tenantOf(principal: unknown): string;
  /** The `publicId` hook, or undefined when none is configured (presence is then off). */
  readonly publicId: ((principal: unknown) => string | undefined) | undefined;
  /** Whether `security.origins` admits an origin (another site's; never throws). */
  readonly originAllowed: OriginAllows;
  /** The one other-sites check of every browser door, before `auth` (security/origin.ts). `legacyCors`:
   * attach's `cors`, honoured by the socket door only. @throws FeteError FORBIDDEN */
  assertOrigin(headers: IncomingHttpHeaders, request: unknown, legacyCors?: SocketCors): Promise<void>;
}

const NOT_CONFIGURED =
  "no auth is configured: every caller is refused. Give createFete({ security: { auth } }), or auth: 'anonymous' to let everybody in";

/** What a refused caller is told: where the credentials that `auth` judges come from. */
const AUTH_REQUIRED =
  'authentication required: security.auth found no principal in this request (HTTP sends credentials as an Authorization: Bearer <token> header, the socket client as auth: { token })';

export function resolveSecurity<P>(o: SecurityOptions<P> = {}): Security {
  if (o === null || typeof o !== 'object') throw new FeteError('INVALID_OPTIONS', 'security must be an object { auth, authorize, tenant, publicId, origins }');
  const auth = o.auth;
  if (auth !== undefined && auth !== 'anonymous' && typeof auth !== 'function')
    throw new FeteError('INVALID_OPTIONS', "security.auth must be a function or 'anonymous'");
  if (o.publicId !== undefined && typeof o.publicId !== 'function') throw new FeteError('INVALID_OPTIONS', 'security.publicId must be a function (principal) => string | undefined');
  if (o.tenant !== undefined && typeof o.tenant !== 'function') throw new FeteError('INVALID_OPTIONS', 'security.tenant must be a function (principal) => string | undefined');
  const originAllowed = resolveOrigins(o.origins);
  const authorize = (o.authorize ?? {}) as Authorize<unknown>;
  const tenantHook = o.tenant as ((p: unknown) => string | undefined) | undefined;

  const tenantOf = (principal: unknown): string => {
    if (!tenantHook) return DEFAULT_TENANT;
    let t: unknown;
    try {
      t = tenantHook(principal);
    } catch (err) {
      throw FeteError.from(err, 'INTERNAL');
    }
    try {
      return validTenant(t, 'the answer of security.tenant');
    } catch (err) {
      throw new FeteError('INTERNAL', (err as Error).message, { cause: err });
    }
  };

  return {
    authorize,
    tenantOf,
    publicId: o.publicId as ((p: unknown) => string | undefined) | undefined,
    originAllowed,
    assertOrigin: (headers, request, legacyCors) => assertOriginAllowed(originAllowed, headers, request, legacyCors),
    async authenticate(request: AuthRequest): Promise<Caller> {
      if (auth === undefined) throw new FeteError('UNAUTHORIZED', NOT_CONFIGURED);
      if (auth === 'anonymous') return { principal: undefined, tenant: tenantOf(undefined) };
      let principal: unknown;
      try {
        principal = await (auth as Auth<unknown>)(request);
      } catch (err) {
        if (isFeteError(err)) throw err; // hostile-safe: a Proxy that throws on access is not one
        throw new FeteError('UNAUTHORIZED', 'authentication failed', { cause: keepableCause(err) });
      }
      if (principal === undefined || principal === null || principal === false) throw new FeteError('UNAUTHORIZED', AUTH_REQUIRED);
      try {
        actorOf(principal); // an id the store cannot keep as given: refused here, at every door
      } catch (err) {
        throw new FeteError('UNAUTHORIZED', (err as Error).message, { cause: err });
      }
      return { principal, tenant: tenantOf(principal) };
    },
  };
}

/** `{ token }` from an `Authorization: Bearer <token>` header, the HTTP door's credentials. */
export function bearerCredentials(authorization: string | undefined): Record<string, unknown> {
  const m = typeof authorization === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
  return m ? { token: m[1] } : {};
}
