// GET /stream?pattern=&from=: events matching a pattern as Server-Sent Events (see sse-stream.ts).
// `from` is 'latest' (default: only new events), 'earliest' (the whole retained log) or a cursor
// (`<epoch>:<seq>`, or a bare seq of the current log) to resume after; a `Last-Event-ID` header
// (sent by EventSource on reconnect) wins over `from`. A cursor the log cannot cover gets a `gap`
// message first (sse-stream.ts).
// Errors before the stream starts are JSON: 400 bad pattern/from, 401, 403 (a pattern that matches
// no exposed topic, or subscribe denied). Only exposed events of the caller's tenant are sent.
import type { Request, Response } from 'express';
import { type Envelope, FeteError, type TopicCatalog, patternsOverlap, requireCursor, validatePattern } from '../../shared/index.js';
import { type FollowFrom, resolveStart } from '../log/start.js';
import { exposureOf, isExposed } from '../security/exposure.js';
import type { LiveHub } from '../live/live-hub.js';
import type { Security } from '../security/security.js';
import { allowed } from '../fanout/client-emit.js';
import type { FeteLog } from '../types.js';
import { authenticate } from './authenticate.js';
import type { ResolvedExpressOptions } from './options.js';
import { SseStream, sseVolatileGapFrame } from './sse-stream.js';

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
  /** `volatile` and `latest` events (live/live-hub.ts). */
  readonly live: LiveHub;
}

/** The exposed volatile topics a pattern can match (a resume loses their events in between). */
function volatileTopics(catalog: TopicCatalog, pattern: string): string[] {
  return Object.values(catalog)
    .filter((t) => t.delivery === 'volatile' && isExposed(t) && patternsOverlap(pattern, t.pattern))
    .map((t) => t.name);
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
    const from = startFrom(req);
    const stream = new SseStream(res, log, { pattern, start, visible, ...o.stream }, () => streams.delete(stream));
    streams.add(stream);
    stream.start();
    if (!fete.live.covers(pattern)) return;
    // A resume: volatile events sent while this client was away are gone; it is told so, first.
    const lost = from === 'latest' || from === 'earliest' ? [] : volatileTopics(fete.topics, pattern);
    if (lost.length > 0) stream.frame(sseVolatileGapFrame({ topics: lost }));
    // A resume (Last-Event-ID or a cursor) is also told of the latest values removed meanwhile.
    const resume = from !== 'latest' && from !== 'earliest';
    const live = fete.live.subscribe({ pattern, tenant: caller.tenant, visible, resume, deliver: (ev) => stream.live(ev), cleared: (c) => stream.cleared(c) });
    live.ready.catch(() => stream.close()); // EventSource reconnects and reads the values again
    stream.withLive(() => live.close());
  };
}
