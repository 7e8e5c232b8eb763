// `client.presence(pattern)`: a live list of who is subscribed to the subjects matching a pattern
// (topics declared `presence: true`). The server answers `pwatch` with every member, then sends
// each change (`pev`); after a reconnect the watch is sent again and the new snapshot replaces the
// list: members that left meanwhile get a `leave`, new ones a `join`, changed ones an `update`,
// so no ghost stays and nothing is reported twice.
import {
  FeteError,
  isPresenceMember,
  matches,
  validatePattern,
  type PresenceChange,
  type PresenceEventPacket,
  type PresenceMember,
  type PresenceWatchAck,
} from '../shared/index.js';
import { asyncDispose } from './async-dispose.js';
import { backoffDelay, type RetryOptions } from './backoff.js';
import { Emitter } from './emitter.js';
import type { Transport } from './transport.js';
import { fromWireError, isPermanent } from './wire.js';

export interface PresenceEvents {
  /** A member arrived (its first connection subscribed to the subject). */
  join(member: PresenceMember): void;
  /** A member left (its last connection went); `connections` is 0, `state` its last one. */
  leave(member: PresenceMember): void;
  /** A member's connection count or state changed. */
  update(member: PresenceMember): void;
  /** The list was (re)loaded from the server: first time, and after every reconnect. */
  sync(members: PresenceMember[]): void;
  /** The server refused the watch for good (FORBIDDEN, INVALID_OPTIONS...): the view is closed. */
  error(error: FeteError): void;
}

export interface PresenceView extends AsyncDisposable {
  readonly pattern: string;
  /** The members now, sorted by subject then id (empty until `ready`). */
  readonly members: PresenceMember[];
  /** True while the list is current: synced on this connection. False while disconnected. */
  readonly live: boolean;
  readonly closed: boolean;
  /** Resolves at the first sync; rejects with the server's refusal (FORBIDDEN when the pattern
   * matches no presence topic or `authorize.subscribe` denies it, INVALID_OPTIONS without
   * `security.publicId`), or CLOSED if closed first. */
  readonly ready: Promise<void>;
  /** The member `id` on `subject`, if present. */
  get(subject: string, id: string): PresenceMember | undefined;
  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof PresenceEvents>(event: K, listener: PresenceEvents[K]): () => void;
  /** Stops watching (tells the server). Idempotent. */
  close(): void;
}

const keyOf = (m: { subject: string; id: string }) => `${m.subject}\n${m.id}`;

function isPresenceChange(c: unknown): c is PresenceChange {
  if (c === null || typeof c !== 'object') return false;
  const x = c as Record<string, unknown>;
  return (x.type === 'join' || x.type === 'leave' || x.type === 'update') && isPresenceMember(x.member);
}

function same(a: PresenceMember, b: PresenceMember): boolean {
  return a.connections === b.connections && JSON.stringify(a.state) === JSON.stringify(b.state);
}

export class PresenceViewImpl implements PresenceView {
  readonly pattern: string;
  readonly ready: Promise<void>;
  readonly #members = new Map<string, PresenceMember>();
  readonly #events = new Emitter<PresenceEvents>();
  #settle!: (err?: FeteError) => void;
  #settled = false;
  /** The connection epoch whose snapshot the list holds (`live` on that connection). */
  syncedOn = -1;
  /** The connection epoch the watch was last sent on. */
  sentOn = -1;
  attempt = 0;
  retryTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(
    readonly wid: string,
    pattern: string,
    readonly onClose: (view: PresenceViewImpl) => void,
    readonly currentEpoch: () => number,
  ) {
    this.pattern = pattern;
    this.ready = new Promise<void>((resolve, reject) => (this.#settle = (err) => (err ? reject(err) : resolve())));
    this.ready.catch(() => undefined);
  }

  get members(): PresenceMember[] {
    return [...this.#members.values()].sort((a, b) => (a.subject === b.subject ? (a.id < b.id ? -1 : 1) : a.subject < b.subject ? -1 : 1));
  }

  get live(): boolean {
    return !this.#closed && this.syncedOn === this.currentEpoch();
  }

  get closed(): boolean {
    return this.#closed;
  }

  get(subject: string, id: string): PresenceMember | undefined {
    return this.#members.get(keyOf({ subject, id }));
  }

  on<K extends keyof PresenceEvents>(event: K, listener: PresenceEvents[K]): () => void {
    return this.#events.on(event, listener);
  }

  /** A snapshot from the server: replaces the list, reporting the differences. */
  sync(members: PresenceMember[], epoch: number): void {
    if (this.#closed) return;
    const next = new Map(members.map((m) => [keyOf(m), m]));
    for (const [k, old] of [...this.#members]) {
      if (next.has(k)) continue;
      this.#members.delete(k);
      this.#events.emit('leave', { ...old, connections: 0 });
    }
    for (const [k, m] of next) {
      const old = this.#members.get(k);
      this.#members.set(k, m);
      if (!old) this.#events.emit('join', m);
      else if (!same(old, m)) this.#events.emit('update', m);
    }
    this.syncedOn = epoch;
    this.attempt = 0;
    this.#events.emit('sync', this.members);
    if (!this.#settled) {
      this.#settled = true;
      this.#settle();
    }
  }

  /** Changes from the server, applied only on the connection the list is synced on. */
  change(changes: readonly PresenceChange[], epoch: number): void {
    for (const c of changes) {
      if (this.#closed || this.syncedOn !== epoch) return;
      const k = keyOf(c.member);
      if (c.type === 'leave') {
        if (this.#members.delete(k)) this.#events.emit('leave', c.member);
      } else {
        const existed = this.#members.has(k);
        this.#members.set(k, c.member);
        this.#events.emit(existed ? 'update' : 'join', c.member);
      }
    }
  }

  /** Ends the view: `error` when the server refused it for good. */
  end(error?: FeteError): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.retryTimer);
    if (!this.#settled) {
      this.#settled = true;
      this.#settle(error ?? new FeteError('CLOSED', `the presence view of "${this.pattern}" was closed before its first sync`));
    }
    if (error) this.#events.emit('error', error);
    this.#events.clear();
  }

  close(): void {
    if (this.#closed) return;
    this.end();
    this.onClose(this);
  }

  [asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

/** Sends the watches of a client, again after every reconnect, and routes `pev` to them. */
export class PresenceWatches {
  readonly #views = new Map<string, PresenceViewImpl>();
  #epoch = 0;
  #next = 0;
  #closed = false;

  constructor(
    private readonly o: { transport: Transport; ackTimeoutMs: number; retry: Required<RetryOptions>; onError(err: FeteError): void },
  ) {}

  /** Throws InvalidPatternError, CLOSED. */
  watch(pattern: string): PresenceView {
    validatePattern(pattern);
    if (this.#closed) throw new FeteError('CLOSED', 'the client is closed');
    const view = new PresenceViewImpl(
      `w${(this.#next++).toString(36)}`,
      pattern,
      (v) => this.#unwatch(v),
      () => this.#epoch,
    );
    this.#views.set(view.wid, view);
    this.#send(view);
    return view;
  }

  connected(): void {
    this.#epoch++;
    for (const v of this.#views.values()) {
      clearTimeout(v.retryTimer);
      v.attempt = 0;
      this.#send(v);
    }
  }

  disconnected(): void {
    this.#epoch++;
    for (const v of this.#views.values()) clearTimeout(v.retryTimer);
  }

  /** One `pev` packet: untrusted input, checked whole before anything reaches the app. */
  pev(packet: unknown): void {
    if (this.#closed) return;
    const p = packet as Partial<PresenceEventPacket> | null;
    if (p === null || typeof p !== 'object' || typeof p.wid !== 'string' || !Array.isArray(p.changes) || !p.changes.every(isPresenceChange)) {
      this.o.onError(new FeteError('MALFORMED', 'a pev packet has the wrong shape'));
      return;
    }
    const view = this.#views.get(p.wid);
    if (!view) return; // closed while the packet was on its way
    // As for events: the server matched, the client checks that what it got fits what it asked.
    if (!p.changes.every((c) => matches(view.pattern, c.member.subject))) {
      this.o.onError(new FeteError('MALFORMED', `a pev packet for "${view.pattern}" holds a subject it does not match`));
      return;
    }
    view.change(p.changes, this.#epoch);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const v of this.#views.values()) v.end();
    this.#views.clear();
  }

  #send(view: PresenceViewImpl): void {
    const t = this.o.transport;
    if (view.closed || !t.connected || view.sentOn === this.#epoch) return;
    if (!t.pwatch) {
      view.end(new FeteError('INVALID_OPTIONS', 'this transport does not support presence'));
      this.#views.delete(view.wid);
      return;
    }
    const epoch = (view.sentOn = this.#epoch);
    t.pwatch({ wid: view.wid, pattern: view.pattern }, this.o.ackTimeoutMs).then(
      (ack) => this.#acked(view, epoch, ack),
      (err: unknown) => {
        if (view.closed || epoch !== this.#epoch) return;
        this.o.onError(FeteError.from(err, 'NETWORK'));
        this.#retry(view);
      },
    );
  }

  #acked(view: PresenceViewImpl, epoch: number, ack: PresenceWatchAck): void {
    if (view.closed || epoch !== this.#epoch) return;
    if (ack.ok) {
      const fitting = ack.members.filter((m) => matches(view.pattern, m.subject));
      if (fitting.length !== ack.members.length) this.o.onError(new FeteError('MALFORMED', `the presence of "${view.pattern}" listed subjects it does not match`));
      return view.sync(fitting, epoch);
    }
    const error = fromWireError(ack.error);
    this.o.onError(new FeteError(error.code, `presence of "${view.pattern}" refused: ${error.message}`, { cause: error }));
    if (!isPermanent(error)) return this.#retry(view);
    this.#views.delete(view.wid);
    view.end(error);
  }

  #retry(view: PresenceViewImpl): void {
    const epoch = this.#epoch;
    view.retryTimer = setTimeout(() => {
      if (epoch !== this.#epoch) return; // a reconnect re-sent it already
      view.sentOn = -1;
      this.#send(view);
    }, backoffDelay(view.attempt++, this.o.retry));
  }

  #unwatch(view: PresenceViewImpl): void {
    if (!this.#views.delete(view.wid)) return;
    this.o.transport.punwatch?.({ wid: view.wid });
  }
}
