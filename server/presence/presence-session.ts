// Presence packets of one socket (socket-session.ts hands them here): membership follows the
// socket's subscriptions (`sub` with a subject of a presence topic joins, `unsub` and disconnect
// leave), `pset` sets the state, `pwatch`/`punwatch` watch members with `pev` changes. Every
// packet is untrusted: shapes, sizes and rates are checked here, and nothing thrown escapes. Who is
// present is decided in presence-membership.ts and what may be watched in presence-service.ts, the
// places the SSE door (http/stream-route.ts, http/presence-route.ts) passes too.
import type { Socket } from 'socket.io';
import { FeteError, PRESENCE_LIMITS, PROTOCOL_LIMITS, type PresenceSetAck, type PresenceWatchAck } from '../../shared/index.js';
import { toWireError } from '../fanout/client-emit.js';
import type { Caller } from '../security/security.js';
import type { PresenceService, SubPresence } from './presence-service.js';
import { type PresenceBroadcast, presenceBroadcastOf, type WatchTarget } from './presence-broadcast.js';
import { Bucket } from './presence-limits.js';
import { PresenceMembership } from './presence-membership.js';

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function ackOf(ack: unknown): (res: unknown) => void {
  return typeof ack === 'function' ? (ack as (res: unknown) => void) : () => undefined;
}

export class PresenceSession {
  readonly #service: PresenceService;
  readonly #socket: Socket;
  readonly #caller: Caller;
  /** Memberships by sid (one connection per subscription). */
  readonly #members: PresenceMembership;
  readonly #watches = new Map<string, () => void>();
  /** State updates (`pset`). */
  readonly #rate: Bucket;
  /** Watches (`pwatch`): each reads the table. A reconnecting client re-sends all of them at once. */
  readonly #watchRate: Bucket;
  readonly #broadcast: PresenceBroadcast;
  #gone = false;

  constructor(service: PresenceService, socket: Socket, caller: Caller) {
    this.#service = service;
    this.#socket = socket;
    this.#caller = caller;
    this.#members = new PresenceMembership(service, caller);
    this.#broadcast = presenceBroadcastOf(socket.nsp);
    const perSecond = service.options.maxStateUpdatesPerSecond;
    this.#rate = new Bucket(perSecond, 2 * perSecond);
    this.#watchRate = new Bucket(perSecond, PRESENCE_LIMITS.maxWatchesPerSocket);
  }

  /** A presence packet of the socket (`pset`, `pwatch`, `punwatch`), from socket-session.ts's one
   * packet listener. */
  packet(event: 'pset' | 'pwatch' | 'punwatch', packet: unknown, ack: unknown): void {
    if (event === 'pset') return this.#set(packet, ackOf(ack));
    if (event === 'pwatch') return void this.#watch(packet, ackOf(ack));
    return this.#unwatch(packet, ackOf(ack));
  }

  /** Subscription `sid` on `pattern` is live: the connection joins if it is a presence subject. */
  subscribed(sid: string, pattern: string, presence: SubPresence): void {
    if (!this.#gone) this.#members.joined(sid, pattern, presence);
  }

  unsubscribed(sid: string): void {
    this.#members.left(sid);
  }

  close(): void {
    this.#gone = true;
    this.#members.close();
    for (const close of this.#watches.values()) close();
    this.#watches.clear();
  }

  #set(packet: unknown, ack: (res: PresenceSetAck) => void): void {
    try {
      if (!isObject(packet) || typeof packet.sid !== 'string') throw new FeteError('MALFORMED', 'pset expects { sid, state }');
      if (!this.#rate.take()) throw new FeteError('RATE_LIMITED', 'too many presence updates on this socket: retry later');
      this.#members.setState(packet.sid, packet.state);
      ack({ ok: true });
    } catch (err) {
      ack({ ok: false, error: toWireError(err) });
    }
  }

  async #watch(packet: unknown, answer: (res: PresenceWatchAck) => void): Promise<void> {
    let answered = false;
    const ack = (res: PresenceWatchAck) => {
      if (answered) return;
      answered = true;
      answer(res);
    };
    let wid: string | undefined;
    let ended = false;
    const reserve = () => void (ended = true);
    try {
      if (!isObject(packet)) throw new FeteError('MALFORMED', 'pwatch expects { wid, pattern }');
      const rawWid = packet.wid;
      if (typeof rawWid !== 'string' || rawWid.length === 0 || rawWid.length > PROTOCOL_LIMITS.maxSidLength)
        throw new FeteError('MALFORMED', `pwatch.wid must be a string of 1 to ${PROTOCOL_LIMITS.maxSidLength} characters`);
      if (!this.#watchRate.take()) throw new FeteError('RATE_LIMITED', 'too many presence watches on this socket: retry later');
      // A watch for a wid this socket holds replaces it (the client re-sends after a reconnect).
      this.#drop(rawWid);
      if (this.#watches.size >= PRESENCE_LIMITS.maxWatchesPerSocket)
        throw new FeteError('TOO_LARGE', `a socket may hold at most ${PRESENCE_LIMITS.maxWatchesPerSocket} presence watches`);
      // Reserved now, so that a punwatch or a newer pwatch arriving during the awaits below wins.
      wid = rawWid;
      this.#watches.set(wid, reserve);
      // The check every door's watch passes (presence-service.ts): pattern, presence topic, authorize.
      const pattern = await this.#service.admitWatcher(this.#caller, packet.pattern);
      if (ended || this.#gone) throw new FeteError('CLOSED', `presence watch ${wid} was replaced or ended`);
      const id = wid;
      const target: WatchTarget = {
        socketId: this.#socket.id,
        wid: id,
        get ended() {
          return ended;
        },
      };
      const close = await this.#service.hub.watch(
        this.#caller.tenant,
        pattern,
        (change) => {
          if (!ended) this.#broadcast.push(target, change);
        },
        // Synchronously at the moment changes start: the ack goes out before any `pev`.
        (members) => {
          if (!ended && !this.#gone) ack({ ok: true, members });
        },
      );
      if (ended || this.#gone) {
        close();
        if (!this.#gone) ack({ ok: false, error: { code: 'CLOSED', message: `presence watch ${id} was replaced or ended` } });
        return;
      }
      this.#watches.set(wid, () => {
        ended = true;
        close();
      });
    } catch (err) {
      if (wid !== undefined && this.#watches.get(wid) === reserve) this.#watches.delete(wid);
      ack({ ok: false, error: toWireError(err) });
    }
  }

  #drop(wid: string): void {
    const close = this.#watches.get(wid);
    if (!close) return;
    this.#watches.delete(wid);
    close();
  }

  #unwatch(packet: unknown, ack: (res: { ok: boolean }) => void): void {
    if (!isObject(packet) || typeof packet.wid !== 'string') return ack({ ok: false });
    this.#drop(packet.wid);
    ack({ ok: true });
  }
}
