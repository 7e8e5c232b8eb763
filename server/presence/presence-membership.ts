// The presence of one connection, whatever its door: a socket (presence-session.ts, one entry per
// subscription `sid`) or an SSE stream (http/stream-route.ts, one entry). The rule of who is present
// lives here and nowhere else: a live subscription whose pattern is exactly a subject of a presence
// topic, not declined (`presence: false`), by a caller that `security.publicId` lists.
import createDebug from 'debug';
import { encodePresenceState, FeteError } from '../../shared/index.js';
import type { Caller } from '../security/security.js';
import type { PresenceService, SubPresence } from './presence-service.js';
import type { PresenceKey } from './presence-store.js';

const debug = createDebug('fete:presence');

export class PresenceMembership {
  readonly #service: PresenceService;
  readonly #caller: Caller;
  /** Memberships by the door's id (a socket's sid): the key in the table and the connection token. */
  readonly #joined = new Map<string, { key: PresenceKey; conn: object }>();
  /** The caller's public id: null until asked. */
  #memberId: string | undefined | null = null;
  #closed = false;

  constructor(service: PresenceService, caller: Caller) {
    this.#service = service;
    this.#caller = caller;
  }

  /** Subscription `id` on `pattern` is live (`presence` from `service.admitSub`): the connection
   * joins if the pattern is a presence subject and the caller is listed. Replaces an earlier `id`. */
  joined(id: string, pattern: string, presence: SubPresence): void {
    this.left(id);
    if (this.#closed || !presence.listed || !this.#service.isPresenceSubject(pattern)) return;
    const member = this.#member();
    if (member === undefined) return;
    const key = { tenant: this.#caller.tenant, subject: pattern, member };
    const conn = {};
    this.#joined.set(id, { key, conn });
    this.#service.hub.join(conn, key, presence.state);
  }

  /** Subscription `id` ended: its connection leaves. No-op for an id that is not present. */
  left(id: string): void {
    const j = this.#joined.get(id);
    if (!j) return;
    this.#joined.delete(id);
    this.#service.hub.leave(j.conn, j.key);
  }

  /** Sets the state of subscription `id`'s connection. Throws INVALID_PAYLOAD, FORBIDDEN_KEY or
   * TOO_LARGE (the state), NOT_FOUND when `id` is not present on a presence subject. */
  setState(id: string, state: unknown): void {
    const text = encodePresenceState(state, this.#service.options.maxStateBytes);
    const j = this.#joined.get(id);
    if (!j || !this.#service.hub.setState(j.conn, j.key, text)) throw new FeteError('NOT_FOUND', `subscription ${id} is not present on a subject of a presence topic`);
  }

  /** Every connection leaves; later joins are ignored. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const id of [...this.#joined.keys()]) this.left(id);
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
}
