// The caller of an HTTP request, through the fete's one security config (security/security.ts):
// the request's `Authorization: Bearer <token>` becomes `credentials.token`, as a socket's
// handshake `auth: { token }` does. No `auth` configured: every request is refused with 401.
import type { Request } from 'express';
import { type Caller, type Security, bearerCredentials } from '../security/security.js';

export function authenticate(req: Request, security: Security): Promise<Caller> {
  return security.authenticate({ door: 'http', credentials: bearerCredentials(req.headers.authorization), headers: req.headers, request: req });
}
