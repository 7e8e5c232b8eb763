// HTTP errors: the one map from a FeteError code to an HTTP status, and the one JSON error body
// `{ error: { code, message } }` every route answers with. Unknown throws become 500 INTERNAL with
// a generic message (their text may hold internals); the detail goes to the debug log only.
import type { Response } from 'express';
import { FeteError, type FeteErrorCode, type WireError } from '../../shared/index.js';
import { toWireError } from '../fanout/client-emit.js';

const STATUS: Record<FeteErrorCode, number> = {
  INVALID_SUBJECT: 400,
  INVALID_PATTERN: 400,
  INVALID_TOPIC: 400,
  INVALID_PAYLOAD: 400,
  MALFORMED: 400,
  FORBIDDEN_KEY: 400,
  TOO_LARGE: 413,
  LIVE_TOO_LARGE: 413,
  UNKNOWN_TOPIC: 404,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  CONFLICT: 409,
  NOT_FOUND: 404,
  CLOSED: 503,
  ABORTED: 499,
  TIMEOUT: 504,
  STORE_LOCKED: 503,
  STORE_UNAVAILABLE: 503,
  STORE_FAILED: 503,
  NETWORK: 503,
  QUOTA_EXCEEDED: 507,
  LEASE_LOST: 409,
  INVALID_OPTIONS: 500,
  INTERNAL: 500,
  REJECTED: 422,
  NO_HANDLER: 503,
  RATE_LIMITED: 429,
};

export function statusOf(code: FeteErrorCode): number {
  return STATUS[code] ?? 500;
}

/** A FeteError whose HTTP status differs from its code's usual one (415 for a wrong content type). */
export class HttpError extends FeteError {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    code: FeteErrorCode,
    message: string,
  ) {
    super(code, message);
  }
}

/** The wire form of any thrown value, as on sockets: unexpected failures lose their internals. */
export function wireError(err: unknown): WireError {
  return toWireError(err);
}

export function httpStatusOf(err: unknown): number {
  if (err instanceof HttpError) return err.status;
  if (err instanceof FeteError) return statusOf(err.code);
  return 500;
}

export function sendError(res: Response, err: unknown, extra: Record<string, unknown> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.status(httpStatusOf(err)).json({ error: wireError(err), ...extra });
}
