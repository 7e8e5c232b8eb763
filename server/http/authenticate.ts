// The principal of an HTTP request, from the `auth` option: the same rules as the socket handshake
// (a falsy result or a throw refuses with 401; a thrown FeteError keeps its code, so an app can
// answer 403 from `auth` too). Without `auth` every request is anonymous.
import type { Request } from 'express';
import { keepableCause } from '../../shared/describe-thrown.js';
import { FeteError, isFeteError } from '../../shared/index.js';
import type { HttpAuth } from './options.js';

export async function authenticate(req: Request, auth: HttpAuth | undefined): Promise<unknown> {
  if (!auth) return undefined;
  let principal: unknown;
  try {
    principal = await auth(req);
  } catch (err) {
    if (isFeteError(err)) throw err;
    throw new FeteError('UNAUTHORIZED', 'authentication failed', { cause: keepableCause(err) });
  }
  if (principal === undefined || principal === null || principal === false) throw new FeteError('UNAUTHORIZED', 'authentication required');
  return principal;
}
