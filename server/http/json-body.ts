// Reading POST bodies as untrusted JSON: only `application/json` (or `+json`) is accepted, so a
// cross-site form or `text/plain` fetch (no CORS preflight) can never emit with a user's cookies;
// the size limit is enforced while streaming (413 before the whole body is buffered); the parsed
// value is checked for prototype keys and nesting depth as the envelope codec does.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { expressModule } from './express-module.js';
import { FeteError, assertNoForbiddenKeys } from '../../shared/index.js';
import { MAX_DECODE_DEPTH } from '../../shared/codec.js';
import { HttpError } from './http-errors.js';

export function isJsonRequest(req: Request): boolean {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

interface BodyParserError {
  type?: string;
  status?: number;
}

/** Buffers the body as text (up to `limit` bytes) into `req.body`, mapping body-parser's errors
 * to fete's codes: 413 TOO_LARGE, 415 for a wrong type or charset, 400 MALFORMED otherwise. */
export function jsonText(limit: number): RequestHandler {
  const text = expressModule().text({ type: () => true, limit });
  return (req: Request, res: Response, next: NextFunction) => {
    if (!isJsonRequest(req)) return next(new HttpError(415, 'MALFORMED', 'the body must be application/json'));
    text(req, res, (err?: unknown) => {
      if (!err) return next();
      const e = err as BodyParserError;
      if (e.type === 'entity.too.large') return next(new FeteError('TOO_LARGE', `the body exceeds the limit of ${limit} bytes`, { details: { limit } }));
      if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') return next(new HttpError(415, 'MALFORMED', 'unsupported body encoding'));
      return next(new FeteError('MALFORMED', 'the body could not be read', { cause: err }));
    });
  };
}

/** Parses the text `jsonText` left in `req.body`. */
export function parseJsonBody(req: Request): unknown {
  const text: unknown = req.body;
  if (typeof text !== 'string' || text.length === 0) throw new FeteError('MALFORMED', 'the body is empty');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new FeteError('MALFORMED', 'the body is not valid JSON', { cause: err });
  }
  assertNoForbiddenKeys(value, MAX_DECODE_DEPTH);
  return value;
}
