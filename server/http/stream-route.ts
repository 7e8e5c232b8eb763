// GET /stream?pattern=&from=: events matching a pattern as Server-Sent Events (see sse-stream.ts).
// `from` is 'latest' (default: only new events), 'earliest' (the whole retained log) or a cursor
// (`<epoch>:<seq>`, or a bare seq of the current log) to resume after; a `Last-Event-ID` header
// (sent by EventSource on reconnect) wins over `from`. A cursor the log cannot cover gets a `gap`
// message first (sse-stream.ts).
// Errors before the stream starts are JSON: 400 bad pattern/from, 401, 403 subscribe denied.
import type { Request, Response } from 'express';
import { FeteError, requireCursor, validatePattern } from '../../shared/index.js';
import { type FollowFrom, resolveStart } from '../log/start.js';
import { allowed } from '../fanout/client-emit.js';
import type { FeteLog } from '../types.js';
import { authenticate } from './authenticate.js';
import type { ResolvedExpressOptions } from './options.js';
import { SseStream } from './sse-stream.js';

/** Where to stream from: Last-Event-ID (a cursor), else `from`. */
function startFrom(req: Request): FollowFrom {
  const lastId = req.headers['last-event-id'];
  if (typeof lastId === 'string' && lastId.trim() !== '') return requireCursor(lastId.trim(), 'Last-Event-ID');
  const from = req.query.from;
  if (from === undefined || from === 'latest') return 'latest';
  if (from === 'earliest') return 'earliest';
  if (typeof from !== 'string') throw new FeteError('MALFORMED', 'from must be given once');
  return requireCursor(from, "from ('latest', 'earliest', a cursor or a seq)");
}

export function streamRoute(log: FeteLog, o: ResolvedExpressOptions, streams: Set<SseStream>) {
  return async (req: Request, res: Response): Promise<void> => {
    const pattern = req.query.pattern;
    if (typeof pattern !== 'string') throw new FeteError('INVALID_PATTERN', 'pattern is required (one subject pattern, e.g. orders.>)');
    validatePattern(pattern);
    const principal = await authenticate(req, o.auth);
    const hook = o.authorize.subscribe;
    if (hook) await allowed(() => hook(principal, pattern), `subscribe to "${pattern}"`);
    const start = await resolveStart(log, startFrom(req), pattern);
    if (req.socket.destroyed) return;
    const stream = new SseStream(res, log, { pattern, start, ...o.stream }, () => streams.delete(stream));
    streams.add(stream);
    stream.start();
  };
}
