// The client's side of realtime delivery: sends `sub` for each subscription (again after every
// reconnect, from its cursor, so the server replays what was missed), and routes each `ev` to its
// subscription, exactly once and in seq order. `evs` is several `ev` of one subscription at once.
//
// Cursor and dedupe: a subscription's cursor is the highest seq handed to it. An event with
// seq <= cursor is dropped: a replay overlapping what was already delivered, or a live event the
// server sent both before and after a resume. Events therefore reach the app with strictly
// increasing seqs and never twice, whatever the server repeats.
//
// Routing: the server matches patterns and addresses each event to one `sid`, so the client does
// not match again; it routes by sid. Each subscription is a bus subscription on the one-token
// subject `<sid>`: the bus gives it its buffer, handler-or-iterator consumption, async handlers run
// one at a time, error isolation and unsubscribe semantics, already specified and tested once.
// Overlapping patterns get separate copies from the server (each with its own cursor), which
// pattern routing on the client would deliver twice.
import {
  FeteError,
  createBus,
  decodeWireEnvelope,
  encodePresenceState,
  formatCursor,
  isEpoch,
  parseCursor,
  matches,
  patternsOverlap,
  topicByName,
  validatePattern,
  type Bus,
  type ClrPacket,
  type Envelope,
  type GapPacket,
  type VolatileGapPacket,
  type RemovalsGapPacket,
  type PresenceState,
  type SubAck,
  type TopicCatalog,
} from '../shared/index.js';
import { backoffDelay, type RetryOptions } from './backoff.js';
import { ClientSubscriptionImpl, type Gap, type SubscribeOptions, type SubscriptionHandler, removalIn, removalMessage } from './client-subscription.js';
import type { Transport } from './transport.js';
import { fromWireError, isPermanent } from './wire.js';

export interface RouterOptions {
  topics: TopicCatalog;
  transport: Transport;
  ackTimeoutMs: number;
  retry: Required<RetryOptions>;
  maxEnvelopeBytes: number;
  bufferSize: number;
  onGap(gap: Gap): void;
  onError(err: FeteError): void;
}

export class SubscriptionRouter {
  readonly #o: RouterOptions;
  readonly #subs = new Map<string, ClientSubscriptionImpl<unknown>>();
  readonly #bus: Bus<Envelope>;
  /** Bumped on every connect and disconnect: acks from an older connection are ignored. */
  #epoch = 0;
  #nextSid = 0;
  #closed = false;
  /** The event being published, for the bus's synchronous onDrop (an overflow). */
  #publishing: { sub: ClientSubscriptionImpl<unknown>; after: number } | undefined;

  constructor(options: RouterOptions) {
    this.#o = options;
    this.#bus = createBus<Envelope>({
      bufferSize: options.bufferSize,
      observer: {
        onDrop: (msg, _sub, reason) => {
          const p = this.#publishing;
          if (reason === 'full' && p !== undefined && msg.payload.seq !== undefined)
            this.#gap(p.sub, { pattern: p.sub.pattern, reason: 'overflow', after: p.after, resumedAt: msg.payload.seq });
        },
        onError: (err, msg) => {
          const sub = this.#subs.get(msg.subject);
          const message = err instanceof Error ? err.message : String(err);
          options.onError(new FeteError('INTERNAL', `a handler of "${sub?.pattern ?? msg.subject}" threw: ${message}`, { cause: err }));
        },
      },
    });
  }

  /** Throws InvalidPatternError for a bad pattern, CLOSED after close(). */
  subscribe<E>(pattern: string, handler: SubscriptionHandler<E> | undefined, options: SubscribeOptions): ClientSubscriptionImpl<E> {
    validatePattern(pattern);
    if (this.#closed) throw new FeteError('CLOSED', 'the client is closed', { details: { pattern } });
    const from = options.from ?? 'latest';
    if (!(from === 'latest' || from === 'earliest' || parseCursor(from) !== undefined))
      throw new FeteError('INVALID_OPTIONS', `from must be 'latest', 'earliest', a cursor or a seq >= 0, got ${String(from)}`);
    const sid = `s${(this.#nextSid++).toString(36)}`;
    if (options.onCleared !== undefined && typeof options.onCleared !== 'function') throw new FeteError('INVALID_OPTIONS', 'onCleared must be a function');
    const sub = new ClientSubscriptionImpl<E>(sid, pattern, from, options.onGap, (sid) => this.#unsubscribed(sid), options.onCleared);
    if (options.presence !== undefined) {
      if (options.presence !== false && (options.presence === null || typeof options.presence !== 'object'))
        throw new FeteError('INVALID_OPTIONS', 'presence must be false or { state }');
      if (options.presence !== false && options.presence.state !== undefined) encodePresenceState(options.presence.state);
      sub.presence = options.presence === false ? false : { ...options.presence };
    }
    sub.presenceSetter = (state) => this.#setPresence(sub as ClientSubscriptionImpl<unknown>, state);
    sub.bus = this.#bus.subscribe(
      sid,
      handler === undefined
        ? undefined
        : (msg) => {
            const removal = removalIn(msg.payload);
            return removal === undefined ? handler(msg.payload as E, sub) : sub.cleared(removal);
          },
      options.bufferSize === undefined ? {} : { bufferSize: options.bufferSize },
    );
    this.#subs.set(sid, sub as ClientSubscriptionImpl<unknown>);
    this.#send(sub as ClientSubscriptionImpl<unknown>);
    return sub;
  }

  connected(): void {
    this.#epoch++;
    for (const sub of this.#subs.values()) {
      clearTimeout(sub.retryTimer);
      sub.attempt = 0;
      this.#send(sub);
    }
  }

  disconnected(): void {
    this.#epoch++;
    for (const sub of this.#subs.values()) {
      clearTimeout(sub.retryTimer);
      if (sub.everAcked && sub.interruptedAt === undefined) sub.interruptedAt = sub.seq ?? 0;
    }
  }

  /** One `ev` packet: untrusted input, checked before anything reaches the app. */
  ev(packet: unknown): void {
    if (this.#closed) return;
    if (!isObject(packet) || typeof packet.sid !== 'string' || !isObject(packet.e)) {
      this.#o.onError(new FeteError('MALFORMED', 'an ev packet has the wrong shape'));
      return;
    }
    const sub = this.#subs.get(packet.sid);
    if (sub === undefined) return; // unsubscribed while the event was on its way
    this.#event(sub, packet.e);
  }

  /** One `evs` packet: each element as an `ev` of the same subscription, in order. */
  evs(packet: unknown): void {
    if (this.#closed) return;
    if (!isObject(packet) || typeof packet.sid !== 'string' || !Array.isArray(packet.es)) {
      this.#o.onError(new FeteError('MALFORMED', 'an evs packet has the wrong shape'));
      return;
    }
    for (const e of packet.es as unknown[]) {
      // Looked up per event: a handler may unsubscribe (or the client close) midway.
      const sub = this.#closed ? undefined : this.#subs.get(packet.sid);
      if (sub === undefined) return;
      this.#event(sub, e);
    }
  }

  #event(sub: ClientSubscriptionImpl<unknown>, e: unknown): void {
    let env: Envelope;
    try {
      env = decodeWireEnvelope(e, { maxBytes: this.#o.maxEnvelopeBytes });
    } catch (err) {
      this.#o.onError(new FeteError('MALFORMED', `skipped an event for "${sub.pattern}": ${(err as Error).message}`, { cause: err }));
      return;
    }
    if (env.volatile === true || env.version !== undefined) return this.#live(sub, env);
    const seq = env.seq;
    if (seq === undefined) {
      this.#o.onError(new FeteError('MALFORMED', `skipped an event for "${sub.pattern}" without a seq`));
      return;
    }
    const after = sub.seq;
    if (after !== undefined && seq <= after) return; // delivered already
    // Past this point the event counts as handled, delivered or not, so a resume does not fetch
    // (and report) it again.
    sub.seq = seq;
    if (topicByName(this.#o.topics, env.topic) === undefined) {
      this.#o.onError(new FeteError('UNKNOWN_TOPIC', `skipped event ${seq} of topic "${env.topic}", which is not in the catalogue`));
      return;
    }
    if (!matches(sub.pattern, env.subject)) {
      this.#o.onError(new FeteError('MALFORMED', `skipped event ${seq}: subject "${env.subject}" does not match "${sub.pattern}"`));
      return;
    }
    this.#publishing = { sub, after: after ?? seq - 1 };
    // Never waits: buffers are bounded by dropping ('block' cannot hold back a network).
    this.#bus.publish(sub.sid, env).catch(noop);
    this.#publishing = undefined;
  }

  /** A `volatile` event or a `latest` value: no seq, the cursor does not move. A latest value is
   * handed over only if its version is above the last one of its subject (a snapshot overlapping
   * a change, a value re-sent after a reconnect, a stale NOTIFY); a volatile event only if its id
   * is not among the subscription's last ones (an emit resent after a lost ack). */
  #live(sub: ClientSubscriptionImpl<unknown>, env: Envelope): void {
    const topic = topicByName(this.#o.topics, env.topic);
    const what = env.volatile === true ? 'volatile' : 'latest';
    if (topic === undefined || topic.delivery !== what) {
      this.#o.onError(new FeteError('MALFORMED', `skipped a ${what} event of topic "${env.topic}", which is not a ${what} topic of the catalogue`));
      return;
    }
    if (!matches(sub.pattern, env.subject)) {
      this.#o.onError(new FeteError('MALFORMED', `skipped a ${what} event: subject "${env.subject}" does not match "${sub.pattern}"`));
      return;
    }
    if (env.version !== undefined) {
      sub.restated.add(env.subject);
      if ((sub.versions.get(env.subject) ?? 0) >= env.version) return;
      sub.versions.set(env.subject, env.version);
      sub.holding.set(env.subject, env.topic);
    } else if (!sub.volatileIds.add(env.id)) return; // handed over already
    this.#bus.publish(sub.sid, env).catch(noop);
  }

  /** One `clr` packet (untrusted): a latest value that is gone. Handed to the subscription when it
   * has a value of the subject older than the removal, or when it started from a stored cursor and
   * has seen nothing of the subject (the app may keep values from before a reload); a removal it
   * had already, or of a value a fresh subscription never had, is dropped. Through its bus, in
   * order with the events. */
  clr(packet: unknown): void {
    if (this.#closed) return;
    if (!isClrPacket(packet)) {
      this.#o.onError(new FeteError('MALFORMED', 'a clr packet has the wrong shape'));
      return;
    }
    const sub = this.#subs.get(packet.sid);
    if (sub === undefined) return;
    const topic = topicByName(this.#o.topics, packet.topic);
    if (topic === undefined || topic.delivery !== 'latest' || !matches(sub.pattern, packet.subject)) {
      this.#o.onError(new FeteError('MALFORMED', `skipped a clr of "${packet.subject}" (${packet.topic}): not a latest topic of the catalogue matching "${sub.pattern}"`));
      return;
    }
    const had = sub.versions.get(packet.subject);
    // A subscription started from a stored cursor (a resume after a reload) may hold values the
    // app kept from before: the resume's removals of subjects it has not seen here are handed over.
    const resumed = sub.from !== 'latest' && sub.from !== 'earliest';
    if (had === undefined ? !resumed : had >= packet.version) return;
    sub.versions.set(packet.subject, packet.version);
    sub.holding.delete(packet.subject);
    this.#bus.publish(sub.sid, removalMessage({ topic: packet.topic, subject: packet.subject, version: packet.version, reason: packet.reason })).catch(noop);
  }

  gap(packet: unknown): void {
    if (!this.#closed && isRemovalsGapPacket(packet)) {
      const sub = this.#subs.get(packet.sid);
      if (sub !== undefined) this.#removalsGap(sub);
      return;
    }
    if (!this.#closed && isVolatileGapPacket(packet)) {
      // The server dropped volatile events for this slow connection; the log's cursor stays.
      const sub = this.#subs.get(packet.sid);
      if (sub === undefined) return;
      const at = sub.seq ?? 0;
      this.#gap(sub, { pattern: sub.pattern, reason: 'volatile', after: at, resumedAt: at, topics: volatileTopics(this.#o.topics, sub.pattern) });
      return;
    }
    if (this.#closed || !isGapPacket(packet)) {
      if (!this.#closed) this.#o.onError(new FeteError('MALFORMED', 'a gap packet has the wrong shape'));
      return;
    }
    const sub = this.#subs.get(packet.sid);
    if (sub === undefined) return;
    // Delivery continues after resumedAt, a seq of log `epoch`; a later resume must not ask for the
    // missing range again. After a reset (another log) or an ahead cursor, the seqs start over:
    // the cursor moves back to resumedAt in the server's log.
    if (packet.reason === 'pruned' && sub.epoch === packet.epoch) sub.seq = Math.max(sub.seq ?? 0, packet.resumedAt);
    else sub.seq = packet.resumedAt;
    sub.epoch = packet.epoch;
    this.#gap(sub, { pattern: sub.pattern, reason: packet.reason, after: packet.after, resumedAt: packet.resumedAt });
  }

  /** The resume was older than the server's removals (RemovalsGapPacket), and the snapshot before
   * this packet is complete: every value held that it did not restate is gone. Each is handed over
   * as a removal ('gone', one version above the value: any later value of the subject is newer), in
   * order with the events, then the app is told with a 'removals' gap. */
  #removalsGap(sub: ClientSubscriptionImpl<unknown>): void {
    for (const [subject, topic] of [...sub.holding]) {
      if (sub.restated.has(subject)) continue;
      const version = (sub.versions.get(subject) ?? 0) + 1;
      sub.versions.set(subject, version);
      sub.holding.delete(subject);
      this.#bus.publish(sub.sid, removalMessage({ topic, subject, version, reason: 'gone' })).catch(noop);
    }
    const at = sub.seq ?? 0;
    this.#gap(sub, { pattern: sub.pattern, reason: 'removals', after: at, resumedAt: at });
  }

  /** Ends every subscription at once (nothing is delivered after it returns). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const sub of this.#subs.values()) sub.end();
    this.#subs.clear();
    void this.#bus.close();
  }

  // ---- sub / unsub ----

  #send(sub: ClientSubscriptionImpl<unknown>): void {
    const t = this.#o.transport;
    if (sub.closed || !t.connected || sub.sentOn === this.#epoch) return;
    const epoch = (sub.sentOn = this.#epoch);
    // What this `sub`'s snapshot restates (a 'removals' gap that follows it keeps these).
    sub.restated = new Set();
    const from = sub.seq === undefined ? sub.from : formatCursor(sub.epoch, sub.seq);
    t.sub({ sid: sub.sid, pattern: sub.pattern, from, ...(sub.presence === undefined ? {} : { presence: sub.presence }) }, this.#o.ackTimeoutMs).then(
      (ack) => this.#acked(sub, epoch, ack),
      (err: unknown) => {
        if (sub.closed || epoch !== this.#epoch) return;
        this.#o.onError(FeteError.from(err, 'NETWORK'));
        this.#retry(sub);
      },
    );
  }

  #acked(sub: ClientSubscriptionImpl<unknown>, epoch: number, ack: SubAck): void {
    if (sub.closed || epoch !== this.#epoch) return;
    if (ack.ok) {
      // Events may have arrived before the ack (a replay): never move the cursor back within one
      // log. An ack from another log (the gap packet that follows says why) starts over there.
      if (sub.seq === undefined || (sub.epoch !== undefined && sub.epoch !== ack.epoch)) sub.seq = ack.cursor;
      else sub.seq = Math.max(sub.seq, ack.cursor);
      // Latest versions belong to one store: after a reset they start over.
      if (sub.epoch !== undefined && sub.epoch !== ack.epoch) sub.versions.clear();
      sub.epoch = ack.epoch;
      sub.attempt = 0;
      sub.everAcked = true;
      sub.ackedOn = epoch;
      sub.acknowledged();
      if (sub.presenceDirty && sub.presence) {
        sub.presenceDirty = false;
        const state = sub.presence.state;
        if (state !== undefined)
          this.#setPresence(sub, state).catch((err: unknown) => this.#o.onError(FeteError.from(err, 'NETWORK')));
      }
      const after = sub.interruptedAt;
      if (after !== undefined) {
        sub.interruptedAt = undefined;
        const topics = volatileTopics(this.#o.topics, sub.pattern);
        if (topics.length > 0) this.#gap(sub, { pattern: sub.pattern, reason: 'volatile', after, resumedAt: sub.seq, topics });
      }
      return;
    }
    const error = fromWireError(ack.error);
    this.#o.onError(new FeteError(error.code, `subscription to "${sub.pattern}" refused: ${error.message}`, { cause: error }));
    if (!isPermanent(error)) return this.#retry(sub);
    this.#subs.delete(sub.sid);
    sub.end(error);
  }

  #retry(sub: ClientSubscriptionImpl<unknown>): void {
    const epoch = this.#epoch;
    sub.retryTimer = setTimeout(() => {
      if (epoch !== this.#epoch) return; // a reconnect re-sent it already
      sub.sentOn = -1;
      this.#send(sub);
    }, backoffDelay(sub.attempt++, this.#o.retry));
  }

  /** Keeps the state for resubscribes; sends it now if the subscription is acknowledged here. */
  async #setPresence(sub: ClientSubscriptionImpl<unknown>, state: PresenceState): Promise<void> {
    encodePresenceState(state);
    if (sub.presence === false) throw new FeteError('NOT_FOUND', `the subscription to "${sub.pattern}" was made with presence: false`);
    sub.presence = { state };
    const t = this.#o.transport;
    if (!t.pset) throw new FeteError('INVALID_OPTIONS', 'this transport does not support presence');
    // Not acknowledged on this connection yet: the next `sub` carries the state, or the one in
    // flight is followed by a `pset` once acknowledged.
    if (!t.connected) return;
    if (sub.ackedOn !== this.#epoch) {
      sub.presenceDirty = true;
      return;
    }
    const ack = await t.pset({ sid: sub.sid, state }, this.#o.ackTimeoutMs);
    if (!ack.ok) throw fromWireError(ack.error);
  }

  #unsubscribed(sid: string): void {
    if (!this.#subs.delete(sid)) return;
    this.#o.transport.unsub({ sid });
  }

  #gap(sub: ClientSubscriptionImpl<unknown>, gap: Gap): void {
    try {
      sub.onGap?.(gap);
    } catch {
      // An app callback must not break routing.
    }
    this.#o.onGap(gap);
  }
}

const noop = () => {};

/** The volatile topics a browser may receive whose subjects `pattern` can match. */
function volatileTopics(catalog: TopicCatalog, pattern: string): string[] {
  return Object.values(catalog)
    .filter((t) => t.delivery === 'volatile' && (t.kind === 'presentation' || t.expose === true) && patternsOverlap(pattern, t.pattern))
    .map((t) => t.name);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object';
}

function isClrPacket(value: unknown): value is ClrPacket {
  return (
    isObject(value) &&
    typeof value.sid === 'string' &&
    typeof value.topic === 'string' &&
    typeof value.subject === 'string' &&
    Number.isSafeInteger(value.version) &&
    (value.version as number) > 0 &&
    (value.reason === 'cleared' || value.reason === 'expired')
  );
}

function isRemovalsGapPacket(value: unknown): value is RemovalsGapPacket {
  return isObject(value) && typeof value.sid === 'string' && value.reason === 'removals' && isEpoch(value.epoch);
}

function isVolatileGapPacket(value: unknown): value is VolatileGapPacket {
  return isObject(value) && typeof value.sid === 'string' && value.reason === 'volatile' && Number.isSafeInteger(value.dropped);
}

function isGapPacket(value: unknown): value is GapPacket {
  return (
    isObject(value) &&
    typeof value.sid === 'string' &&
    (value.reason === 'reset' || value.reason === 'ahead' || value.reason === 'pruned') &&
    Number.isSafeInteger(value.after) &&
    Number.isSafeInteger(value.resumedAt) &&
    isEpoch(value.epoch)
  );
}
