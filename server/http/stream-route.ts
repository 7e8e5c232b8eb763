// GET /stream?pattern=&from=: events matching a pattern as Server-Sent Events (see sse-stream.ts).
// `from` is 'latest' (default: only new events), 'earliest' (the whole retained log) or a cursor
// (`<epoch>:<seq>`, or a bare seq of the current log) to resume after; a `Last-Event-ID` header
// (sent by EventSource on reconnect) wins over `from`. A cursor the log cannot cover gets a `gap`
// message first (sse-stream.ts).
// Errors before the stream starts are JSON: 400 bad pattern/from, 401, 403 (a pattern that matches
// no exposed topic, or subscribe denied). Only exposed events of the caller's tenant are sent.
import type { Request, Response } from 'express';
import { type Envelope, FeteError, type TopicCatalog, requireCursor, validatePattern } from '../../shared/index.js';
import { type FollowFrom, resolveStart } from '../log/start.js';
import { exposureOf } from '../security/exposure.js';
import type { Security } from '../security/security.js';
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

export interface StreamTarget {
  readonly topics: TopicCatalog;
  readonly log: FeteLog;
  readonly security: Security;
}

export function streamRoute(fete: StreamTarget, o: ResolvedExpressOptions, streams: Set<SseStream>) {
  const log = fete.log;
  const exposure = exposureOf(fete.topics);
  return async (req: Request, res: Response): Promise<void> => {
    // Authenticated first: an anonymous caller learns nothing, not even which patterns are valid.
    const caller = await authenticate(req, fete.security);
    const pattern = req.query.pattern;
    if (typeof pattern !== 'string') throw new FeteError('INVALID_PATTERN', 'pattern is required (one subject pattern, e.g. orders.>)');
    validatePattern(pattern);
    exposure.admitPattern(pattern);
    const hook = fete.security.authorize.subscribe;
    if (hook) await allowed(() => hook(caller.principal, pattern), `subscribe to "${pattern}"`);
    const start = await resolveStart(log, startFrom(req), pattern);
    if (req.socket.destroyed) return;
    const visible = (e: Envelope) => exposure.visible(e, caller.tenant);
    const stream = new SseStream(res, log, { pattern, start, visible, ...o.stream }, () => streams.delete(stream));
    streams.add(stream);
    stream.start();
  };
}
