// GET /stream?pattern=&from=: events matching a pattern as Server-Sent Events (see sse-stream.ts).
// `from` is 'latest' (default: only new events), 'earliest' (the whole retained log) or a cursor
// (`<epoch>:<seq>`, or a bare seq of the current log) to resume after; a `Last-Event-ID` header
// (sent by EventSource on reconnect) wins over `from`. A cursor the log cannot cover gets a `gap`
// message first (sse-stream.ts). Every stream is a receiver of the node's one live tail (shared with
// the Socket.IO subscriptions: fanout/node-tail.ts, through sse-door.ts): its start is resolved
// against the tail's position, as a socket `sub` is.
// Errors before the stream starts are JSON: 400 bad pattern/from/presence, 401, 403 (a pattern that
// matches no exposed topic, or subscribe denied). Only exposed events of the caller's tenant are sent.
// Presence: a stream on exactly a subject of a presence topic makes its caller present there, as a
// socket subscription does (presence/presence-membership.ts), until it ends; `presence` takes what
// a socket `sub` packet's `presence` field takes, as JSON: `false` (not listed) or `{"state":…}`.
import type { Request, Response } from 'express';
import { type Envelope, FeteError, type TopicCatalog, patternsOverlap, requireCursor, validatePattern } from '../../shared/index.js';
import type { FollowFrom } from '../log/start.js';
import { exposureOf, isExposed } from '../security/exposure.js';
import { type LiveHub, resumeOf } from '../live/live-hub.js';
import type { Security } from '../security/security.js';
import { allowed } from '../fanout/client-emit.js';
import type { NodeTail, NodeTailOptions } from '../fanout/node-tail.js';
import { PresenceMembership } from '../presence/presence-membership.js';
import type { PresenceService } from '../presence/presence-service.js';
import type { FeteLog } from '../types.js';
import { authenticate } from './authenticate.js';
import type { ResolvedExpressOptions } from './options.js';
import type { SseDoor } from './sse-door.js';
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

/** The `presence` parameter as the value of a socket `sub` packet's `presence` field: absent,
 * `false`, or JSON (`{"state":…}`). Throws MALFORMED for anything else. */
function presenceParam(value: unknown): unknown {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new FeteError('MALFORMED', 'presence must be given once');
  if (value === 'false') return false;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    throw new FeteError('MALFORMED', 'presence must be false or JSON such as {"state":{"typing":false}}');
  }
}

export interface StreamTarget {
  readonly topics: TopicCatalog;
  readonly log: FeteLog;
  readonly security: Security;
  /** `volatile` and `latest` events (live/live-hub.ts). */
  readonly live: LiveHub;
  /** The node's one live tail of the log (fanout/node-tail.ts). */
  browserTail(options: NodeTailOptions): NodeTail;
  /** Presence (server/presence/): a stream on a presence subject is a member there. */
  readonly presenceService?: PresenceService;
}

/** The exposed volatile topics a pattern can match (a resume loses their events in between). */
function volatileTopics(catalog: TopicCatalog, pattern: string): string[] {
  return Object.values(catalog)
    .filter((t) => t.delivery === 'volatile' && isExposed(t) && patternsOverlap(pattern, t.pattern))
    .map((t) => t.name);
}

/** `door()`: the router's door of the node's tail (sse-door.ts), made at its first stream. */
export function streamRoute(fete: StreamTarget, o: ResolvedExpressOptions, door: () => SseDoor) {
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
    const from = startFrom(req);
    const presence = fete.presenceService?.admitSub(pattern, presenceParam(req.query.presence));
    const sse = door();
    const start = await sse.tail.startCursor(from, pattern);
    if (req.socket.destroyed) return;
    // Closed while the start was resolved: a stream it took now would never be routed to.
    if (sse.closed) throw new FeteError('CLOSED', 'the event stream was closed: reconnect');
    // The rule the tail applies to live events, for the replay and the live hub.
    const visible: (e: Envelope) => boolean = sse.tail.visibleTo(caller.tenant);
    let membership: PresenceMembership | undefined;
    const stream = new SseStream(res, sse, { pattern, tenant: caller.tenant, start, visible, ...o.stream }, () => {
      sse.remove(stream);
      membership?.close();
    });
    // Synchronous from here: registered with the tail, then live at once or replaying up to it.
    sse.add(stream);
    if (presence && fete.presenceService && !stream.closed) {
      membership = new PresenceMembership(fete.presenceService, caller);
      membership.joined('stream', pattern, presence);
    }
    if (!fete.live.covers(pattern)) return;
    // A resume: volatile events sent while this client was away are gone; it is told so, first.
    const lost = from === 'latest' || from === 'earliest' ? [] : volatileTopics(fete.topics, pattern);
    if (lost.length > 0) stream.frame(sseVolatileGapFrame({ topics: lost }));
    // A resume (Last-Event-ID or a cursor) is also told of the latest values removed meanwhile.
    const live = fete.live.subscribe({
      pattern,
      tenant: caller.tenant,
      visible,
      resume: resumeOf(from, start),
      since: start.cursor,
      deliver: (ev) => stream.live(ev),
      cleared: (c) => stream.cleared(c),
      restated: () => stream.restated(),
    });
    live.ready.catch(() => stream.close()); // EventSource reconnects and reads the values again
    stream.withLive(() => live.close());
  };
}
