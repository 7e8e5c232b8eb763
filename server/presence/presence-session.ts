// Presence packets of one socket (socket-session.ts hands them here): membership follows the
// socket's subscriptions (`sub` with a subject of a presence topic joins, `unsub` and disconnect
// leave), `pset` sets the state, `pwatch`/`punwatch` watch members with `pev` changes. Every
// packet is untrusted: shapes, sizes and rates are checked here, and nothing thrown escapes.
import createDebug from 'debug';
import type { Socket } from 'socket.io';
import { encodePresenceState, FeteError, PRESENCE_LIMITS, PROTOCOL_LIMITS, validatePattern, type PresenceSetAck, type PresenceWatchAck } from '../../shared/index.js';
import { allowed, toWireError } from '../fanout/client-emit.js';
import type { Caller } from '../security/security.js';
import type { Authorize } from '../security/security-options.js';
import type { PresenceService } from './presence-service.js';
import type { PresenceKey } from './presence-store.js';
import { type PresenceBroadcast, presenceBroadcastOf, type WatchTarget } from './presence-broadcast.js';

const debug = createDebug('fete:presence');

/** What a `sub` packet asked of presence, checked: listed or not, with the state's JSON. */
export type SubPresence = { listed: boolean; state: string | undefined };

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function ackOf(ack: unknown): (res: unknown) => void {
  return typeof ack === 'function' ? (ack as (res: unknown) => void) : () => undefined;
}

/** A token bucket: `rate` a second, bursts of `burst`. */
class Bucket {
  #tokens: number;
  #at = Date.now();
  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {
    this.#tokens = burst;
  }
  take(): boolean {
    const now = Date.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) / 1000) * this.rate);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

export class PresenceSession {
  readonly #service: PresenceService;
  readonly #socket: Socket;
  readonly #caller: Caller;
  readonly #authorize: Authorize<unknown> | undefined;
  /** Memberships by sid: the key in the table and the connection token (one per subscription). */
  readonly #joined = new Map<string, { key: PresenceKey; conn: object }>();
  readonly #watches = new Map<string, () => void>();
  /** State updates (`pset`). */
  readonly #rate: Bucket;
  /** Watches (`pwatch`): each reads the table. A reconnecting client re-sends all of them at once. */
  readonly #watchRate: Bucket;
  readonly #broadcast: PresenceBroadcast;
  #memberId: string | undefined | null = null;
  #gone = false;

  constructor(service: PresenceService, socket: Socket, caller: Caller, authorize: Authorize<unknown> | undefined) {
    this.#service = service;
    this.#socket = socket;
    this.#caller = caller;
    this.#authorize = authorize;
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

  /** Checks the `presence` field of a `sub` packet (before the subscription is made). Throws
   * MALFORMED, INVALID_PAYLOAD, FORBIDDEN_KEY or TOO_LARGE. */
  admitSub(presence: unknown): SubPresence {
    if (presence === undefined || presence === null) return { listed: true, state: undefined };
    if (presence === false) return { listed: false, state: undefined };
    if (!isObject(presence)) throw new FeteError('MALFORMED', 'sub.presence must be false or { state }');
    const state = presence.state === undefined ? undefined : encodePresenceState(presence.state, this.#service.options.maxStateBytes);
    return { listed: true, state };
  }

  /** Subscription `sid` on `pattern` is live: the connection joins if it is a presence subject. */
  subscribed(sid: string, pattern: string, presence: SubPresence): void {
    this.unsubscribed(sid);
    if (this.#gone || !presence.listed || !this.#service.isPresenceSubject(pattern)) return;
    const member = this.#member();
    if (member === undefined) return;
    const key = { tenant: this.#caller.tenant, subject: pattern, member };
    const conn = {};
    this.#joined.set(sid, { key, conn });
    this.#service.hub.join(conn, key, presence.state);
  }

  unsubscribed(sid: string): void {
    const j = this.#joined.get(sid);
    if (!j) return;
    this.#joined.delete(sid);
    this.#service.hub.leave(j.conn, j.key);
  }

  close(): void {
    this.#gone = true;
    for (const sid of [...this.#joined.keys()]) this.unsubscribed(sid);
    for (const close of this.#watches.values()) close();
    this.#watches.clear();
  }

  /** The caller's public id, computed once; a failing hook is logged and the caller not listed. */
  #member(): string | undefined {
    if (this.#memberId !== null) return this.#memberId;
    try {
      this.#memberId = this.#service.publicIdOf(this.#caller.principal);
    } catch (err) {
      debug('security.publicId failed: the caller is not listed: %s', (err as Error).message);
      this.#memberId = undefined;
    }
    return this.#memberId;
  }

  #set(packet: unknown, ack: (res: PresenceSetAck) => void): void {
    try {
      if (!isObject(packet) || typeof packet.sid !== 'string') throw new FeteError('MALFORMED', 'pset expects { sid, state }');
      if (!this.#rate.take()) throw new FeteError('RATE_LIMITED', 'too many presence updates on this socket: retry later');
      const state = encodePresenceState(packet.state, this.#service.options.maxStateBytes);
      const j = this.#joined.get(packet.sid);
      if (!j || !this.#service.hub.setState(j.conn, j.key, state))
        throw new FeteError('NOT_FOUND', `subscription ${packet.sid} is not present on a subject of a presence topic`);
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
      const pattern = validatePattern(packet.pattern);
      this.#service.admitWatch(pattern);
      // A watch for a wid this socket holds replaces it (the client re-sends after a reconnect).
      this.#drop(rawWid);
      if (this.#watches.size >= PRESENCE_LIMITS.maxWatchesPerSocket)
        throw new FeteError('TOO_LARGE', `a socket may hold at most ${PRESENCE_LIMITS.maxWatchesPerSocket} presence watches`);
      // Reserved now, so that a punwatch or a newer pwatch arriving during the awaits below wins.
      wid = rawWid;
      this.#watches.set(wid, reserve);
      const hook = this.#authorize?.subscribe;
      if (hook) await allowed(() => hook(this.#caller.principal, pattern), `watch presence on "${pattern}"`);
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
