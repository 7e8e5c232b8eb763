// GET /presence?pattern=: who is subscribed to the subjects matching a pattern (presence-service.ts),
// for callers without the client SDK. With `Accept: text/event-stream` (EventSource sends it) it is
// a watch as Server-Sent Events (presence-sse-stream.ts: a `snapshot`, then `join`/`leave`/`update`);
// otherwise one JSON answer `{ members }`, read from the presence table.
// Both pass the check a socket's `pwatch` passes (PresenceService.admitWatcher: a pattern that can
// match a presence topic, `authorize.subscribe`), see the caller's tenant only, and are limited per
// caller (presence-limits.ts). Errors are JSON before a stream starts: 400 bad pattern, 401, 403,
// 429 RATE_LIMITED, 503 CLOSED / STORE_UNAVAILABLE.
import type { Request, Response } from 'express';
import { FeteError } from '../../shared/index.js';
import type { PresenceService } from '../presence/presence-service.js';
import type { Security } from '../security/security.js';
import { authenticate } from './authenticate.js';
import type { ResolvedExpressOptions } from './options.js';
import { PresenceSseStream } from './presence-sse-stream.js';

export interface PresenceRouteTarget {
  readonly security: Security;
  /** Presence of the fete (every `Fete` has it; absent: the route answers 404). */
  readonly presenceService?: PresenceService;
}

/** The open presence streams of one router, ended by its `close()`. */
export class PresenceStreams {
  readonly streams = new Set<PresenceSseStream>();
  #closed = false;

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    this.#closed = true;
    for (const s of [...this.streams]) s.close();
  }
}

/** Whether the caller asked for an event stream rather than JSON (JSON when it does not say). */
function wantsStream(req: Request): boolean {
  return req.accepts(['application/json', 'text/event-stream']) === 'text/event-stream';
}

/** `streams()`: the router's open presence streams (made at its first stream). */
export function presenceRoute(fete: PresenceRouteTarget, o: ResolvedExpressOptions, streams: () => PresenceStreams) {
  return async (req: Request, res: Response): Promise<void> => {
    const caller = await authenticate(req, fete.security);
    const service = fete.presenceService;
    if (!service) throw new FeteError('NOT_FOUND', 'presence is not available on this server');
    const raw = req.query.pattern;
    if (typeof raw !== 'string') throw new FeteError('INVALID_PATTERN', 'pattern is required (one subject pattern, e.g. rooms.r1.chat or rooms.*.chat)');
    service.callers.take(caller);
    const pattern = await service.admitWatcher(caller, raw);
    res.setHeader('vary', 'accept');
    if (!wantsStream(req)) {
      const members = await service.hub.members(caller.tenant, pattern);
      res.setHeader('cache-control', 'no-store');
      res.json({ members });
      return;
    }
    const door = streams();
    const release = service.callers.open(caller);
    let closeWatch: (() => void) | undefined;
    const stream = new PresenceSseStream(res, { ...o.stream, members: () => service.hub.held(caller.tenant, pattern) }, () => {
      release();
      door.streams.delete(stream);
      closeWatch?.();
    });
    try {
      closeWatch = await service.hub.watch(
        caller.tenant,
        pattern,
        (change) => stream.change(change),
        // At the moment changes start: the snapshot goes out before any of them.
        (members) => {
          if (door.closed || stream.closed || req.socket.destroyed) return;
          door.streams.add(stream);
          stream.start(members);
        },
        () => stream.close(),
      );
    } catch (err) {
      stream.close();
      throw err;
    }
    if (door.streams.has(stream)) return;
    // Not started: the client left, or the router closed while the members were read.
    const closed = door.closed;
    stream.close();
    if (closed && !req.socket.destroyed) throw new FeteError('CLOSED', 'the presence stream was closed: reconnect');
  };
}
