// GET /health: 200 { status: 'ok', headSeq } when the store answers a cheap query (the log's
// head) within `healthTimeoutMs`, else 503 { status: 'unavailable', error }. For load balancers
// and orchestrators: it says whether this process can accept emits, nothing about the backlog.
import type { Request, Response } from 'express';
import { FeteError } from '../../shared/index.js';
import type { FeteLog } from '../types.js';
import { wireError } from './http-errors.js';

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FeteError('TIMEOUT', `the store did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export function healthRoute(log: FeteLog, timeoutMs: number) {
  return async (_req: Request, res: Response): Promise<void> => {
    res.setHeader('cache-control', 'no-store');
    try {
      const headSeq = await withTimeout(log.head(), timeoutMs);
      res.json({ status: 'ok', headSeq });
    } catch (err) {
      res.status(503).json({ status: 'unavailable', error: wireError(FeteError.from(err, 'STORE_UNAVAILABLE')) });
    }
  };
}
