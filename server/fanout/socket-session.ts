// One connected socket: its subscriptions (by client-chosen sid), the `sub`/`unsub`/`emit`
// handlers, and its send buffer as seen by backpressure. Every packet is untrusted: shapes are
// checked here, a missing or non-function ack is tolerated, and nothing thrown escapes a handler.
import createDebug from 'debug';
import type { Socket } from 'socket.io';
import {
  type CmdAck,
  type EmitAck,
  type Envelope,
  FeteError,
  type LatestCleared,
  PROTOCOL_LIMITS,
  type SubAck,
  type WireEnvelope,
  parseCursor,
  validatePattern,
} from '../../shared/index.js';
import type { FollowFrom, GapNotice } from '../log/start.js';
import type { Caller } from '../security/security.js';
import { allowed, applyClientEmits, toWireError } from './client-emit.js';
import { type CommandTarget, answerCommandPacket, answerResultPacket } from './command-packet.js';
import { writeFrame } from './ev-frame.js';
import { eventsPacket, type FanoutCore } from './fanout-core.js';
import { eventsOfPacketBeingSent, sendingEvents } from './packet-events.js';
import { Subscription, type SubscriptionHost } from './subscription.js';
import { PresenceSession } from '../presence/presence-session.js';
import { type LiveReceiver, type LiveSubscription, resumeOf } from '../live/live-hub.js';
import { HeldLatest } from './held-latest.js';
import { patternsOverlap } from './pattern-overlap.js';
import { isExposed } from '../security/exposure.js';

const debug = createDebug('fete:fanout');

/** Emit packets of one socket waiting to be applied: they are applied one after another (in
 * order), and a client that sends more without waiting for acks is told to retry later. */
const MAX_QUEUED_EMITS = 8;
/** The client's ack timeout is 10 s: answer before it, so it never resends blind. */
const EMIT_ACK_DEADLINE_MS = 8000;
/** Commands of one socket running at once. */
const MAX_INFLIGHT_COMMANDS = 64;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function ackOf(ack: unknown): (res: unknown) => void {
  return typeof ack === 'function' ? (ack as (res: unknown) => void) : () => undefined;
}

function parseFrom(from: unknown): FollowFrom {
  if (from === 'latest' || from === 'earliest') return from;
  const position = parseCursor(from);
  if (position) return position;
  throw new FeteError('MALFORMED', "sub.from must be 'latest', 'earliest', a cursor ('<epoch>:<seq>') or a seq (a non-negative integer)");
}

/** Events carried by packets waiting in a socket's write buffer, for the packets that carry more
 * or less than one (an `evs`); shared by every socket (packets are distinct objects). */
const packetWeights = new WeakMap<object, number>();

/**
 * A socket's session is also the host of its subscriptions (SubscriptionHost): methods on the
 * prototype rather than an object of closures per socket. An idle subscribed socket costs the
 * session, its subscription and a few listeners (see the memory scenario in bench/).
 */
export class SocketSession implements SubscriptionHost {
  readonly #core: FanoutCore;
  readonly #socket: Socket;
  readonly #caller: Caller;
  readonly #subs = new Map<string, Subscription>();
  /** Made at the first emit packet. */
  #emitChain: Promise<void> | undefined;
  #queuedEmits = 0;
  #commandsInFlight = 0;
  /** Made when a catch-up waits for the socket to drain. */
  #drainWaiters: Array<() => void> | undefined;
  #gone = false;
  /** Events in Engine.IO's queue of packets waiting for the transport (see the constructor). */
  #queuedEvents: number;
  /** Presence packets and memberships, made on the first that needs them (server/presence/). */
  #presence: PresenceSession | undefined;
  /** The latest-value snapshots of this socket's subscriptions, read one after another (#sub). */
  #snapshots: Promise<void> = Promise.resolve();

  constructor(core: FanoutCore, socket: Socket, caller: Caller) {
    this.#core = core;
    this.#socket = socket;
    this.#caller = caller;
    const conn = socket.conn;
    // Events in Engine.IO's queue of packets waiting for the transport (`writeBuffer`, private in
    // its typings): it grows while a websocket's previous writes are unacknowledged by the OS, i.e.
    // the client is slow. Counted as packets enter it (`packetCreate`) and leave it for the
    // transport (`flush`), each weighing the events it carries (an `evs` many, anything else 1).
    this.#queuedEvents = (conn as unknown as { writeBuffer: unknown[] }).writeBuffer.length;
    conn.on('packetCreate', (packet: object) => {
      const n = eventsOfPacketBeingSent();
      this.#queuedEvents += n;
      if (n !== 1) packetWeights.set(packet, n);
    });
    conn.on('flush', (packets: object[]) => {
      for (const p of packets) this.#queuedEvents -= packetWeights.get(p) ?? 1;
    });
    // One listener for every packet (Socket.IO passes the ack last, as to `on`), rather than one
    // per packet type: each listener is a closure and an entry in the socket's listener table.
    socket.onAny((event: unknown, packet: unknown, ack: unknown) => this.#packet(event, packet, ack));
    socket.on('disconnect', () => this.#close());
  }

  /** Runs inside Socket.IO's packet decoding (any-listeners are called there, before `socket.on`
   * handlers would be, a tick later): nothing thrown may escape. */
  #packet(event: unknown, packet: unknown, ack: unknown): void {
    try {
      switch (event) {
        case 'sub':
          return void this.#sub(packet, ackOf(ack)).catch((err: Error) => debug('sub failed: %s', err.message));
        case 'unsub':
          return this.#unsub(packet, ackOf(ack));
        case 'emit':
          return this.#emit(packet, ackOf(ack));
        case 'cmd':
          return this.#cmd(packet, ackOf(ack));
        case 'cmdr':
          return this.#cmd(packet, ackOf(ack), answerResultPacket);
        case 'pset':
        case 'pwatch':
        case 'punwatch':
          return this.#presenceSession()?.packet(event, packet, ack);
        // Anything else is not fete's protocol: ignored, as Socket.IO ignores events nobody listens to.
      }
    } catch (err) {
      debug('%s packet failed: %s', String(event), (err as Error)?.message);
    }
  }

  #presenceSession(): PresenceSession | undefined {
    const service = this.#core.fete.presenceService;
    if (!service) return undefined;
    return (this.#presence ??= new PresenceSession(service, this.#socket, this.#caller));
  }

  get subscriptionCount(): number {
    return this.#subs.size;
  }

  // SubscriptionHost: what this socket's subscriptions need from it and from the fanout.

  get tenant(): string {
    return this.#caller.tenant;
  }

  get socketId(): string {
    return this.#socket.id;
  }

  get log(): FanoutCore['log'] {
    return this.#core.log;
  }

  get pageSize(): number {
    return this.#core.options.readPageSize;
  }

  get maxBufferedEvents(): number {
    return this.#core.options.maxBufferedEvents;
  }

  tailCursor(): number {
    return this.#core.tail.cursor;
  }

  backlog(): number {
    return this.#queuedEvents;
  }

  send(sid: string, events: WireEnvelope[], frame?: string): void {
    this.#core.counters.eventsSent += events.length;
    const socket = this.#socket;
    sendingEvents(events.length, () => {
      if (frame !== undefined && writeFrame(socket, frame)) return;
      const [event, packet] = eventsPacket(sid, events);
      socket.emit(event, packet as never);
    });
  }

  gap(sid: string, g: GapNotice): void {
    const core = this.#core;
    // Live events the fanout routed before this point go out first (seq order with the gap).
    core.flush();
    core.counters.retentionGaps++;
    this.#socket.emit('gap', { sid, reason: g.reason, after: g.after, resumedAt: g.resumedAt, epoch: core.log.epoch });
  }

  overflowed(): void {
    this.#core.counters.overflows++;
  }

  catchUp(delta: 1 | -1): void {
    this.#core.counters.catchingUp += delta;
  }

  failed(sub: Subscription, err: Error): void {
    // The client resubscribes from its cursor after reconnecting: nothing is lost.
    debug('disconnecting socket %s: the log could not be read for %s: %s', this.#socket.id, sub.pattern, err.message);
    this.#socket.disconnect(true);
  }

  visible(e: Envelope): boolean {
    return this.#core.exposure.visible(e, this.#caller.tenant);
  }

  whenWritable(): Promise<void> {
    if (this.#gone || this.#queuedEvents <= this.#core.options.maxBufferedEvents / 2) return Promise.resolve();
    return new Promise((resolve) => {
      if (this.#drainWaiters === undefined) {
        // Listened for only while someone waits (a catch-up paced by this socket).
        this.#drainWaiters = [];
        this.#socket.conn.once('drain', () => this.#drained());
      }
      this.#drainWaiters.push(resolve);
    });
  }

  #drained(): void {
    const waiters = this.#drainWaiters;
    if (!waiters) return;
    this.#drainWaiters = undefined;
    for (const w of waiters) w();
  }

  async #sub(packet: unknown, ack: (res: SubAck) => void): Promise<void> {
    const core = this.#core;
    let sid: string | undefined;
    let sub: Subscription | undefined;
    try {
      if (!isObject(packet)) throw new FeteError('MALFORMED', 'sub expects { sid, pattern, from }');
      const rawSid = packet.sid;
      if (typeof rawSid !== 'string' || rawSid.length === 0 || rawSid.length > PROTOCOL_LIMITS.maxSidLength)
        throw new FeteError('MALFORMED', `sub.sid must be a string of 1 to ${PROTOCOL_LIMITS.maxSidLength} characters`);
      sid = rawSid;
      const pattern = validatePattern(packet.pattern);
      core.exposure.admitPattern(pattern);
      const from = parseFrom(packet.from);
      const presence = core.fete.presenceService?.admitSub(pattern, packet.presence);
      // A sub for a sid this socket holds replaces it (the client retries a sub under the same sid).
      this.#drop(sid);
      if (this.#subs.size >= PROTOCOL_LIMITS.maxSubscriptionsPerSocket)
        throw new FeteError('TOO_LARGE', `a socket may hold at most ${PROTOCOL_LIMITS.maxSubscriptionsPerSocket} subscriptions`);
      // Reserve the sid now, so that an unsub or a newer sub arriving during the awaits below wins.
      sub = new Subscription(this, sid, pattern, 0);
      this.#subs.set(sid, sub);
      const hook = core.options.authorize?.subscribe;
      if (hook) await allowed(() => hook(this.#caller.principal, pattern), `subscribe to "${pattern}"`);
      const start = await core.startCursor(from, pattern);
      if (this.#subs.get(sid) !== sub || this.#gone) throw new FeteError('CLOSED', `subscription ${sid} was replaced or ended`);
      // From here on synchronous: registered with the tail, then the replay notes its target.
      sub = new Subscription(this, sid, pattern, start.cursor);
      this.#subs.set(sid, sub);
      core.register(sub);
      const answer: SubAck = { ok: true, cursor: start.cursor, epoch: core.log.epoch };
      if (presence) this.#presenceSession()!.subscribed(sid, pattern, presence);
      if (start.cursor >= core.tail.cursor && start.gaps.length === 0) sub.goLive();
      else sub.replay(start);
      // A start from a cursor is a resume: the client may hold latest values cleared meanwhile.
      const resume = resumeOf(from, start);
      if (!core.fete.live.covers(pattern)) return ack(answer);
      if (!this.#coversLatest(pattern)) {
        this.#live(sub, resume, start.cursor);
        return ack(answer);
      }
      // With latest topics, the ack follows their current values: `sub.ready` in the client then
      // means the values are there (log events may come before it, as with any replay). A snapshot
      // is every current value of the pattern at once, so a socket reads one at a time, each once
      // it has taken what was queued before: otherwise each small `sub` packet would queue the
      // whole snapshot again for a reader that does not read (one per sub, 256 subs a socket).
      const waiting = sub;
      const turn = this.#snapshots.then(() => this.whenWritable()).then(async () => {
        if (waiting.closed || this.#gone) return ack({ ok: false, error: { code: 'CLOSED', message: `subscription ${sid} was replaced or ended` } });
        await this.#live(waiting, resume, start.cursor).ready.then(
          () => ack(waiting.closed ? { ok: false, error: { code: 'CLOSED', message: `subscription ${sid} was replaced or ended` } } : answer),
          () => undefined,
        );
      });
      this.#snapshots = turn.catch((err: Error) => debug('latest snapshot failed: %s', err.message));
    } catch (err) {
      if (sid !== undefined && sub !== undefined && this.#subs.get(sid) === sub) {
        this.#subs.delete(sid);
        core.unregister(sub);
      }
      ack({ ok: false, error: toWireError(err) });
    }
  }

  /** Whether a subscription on `pattern` gets latest values (a snapshot first). */
  #coversLatest(pattern: string): boolean {
    return Object.values(this.#core.fete.topics).some((t) => t.delivery === 'latest' && isExposed(t) && patternsOverlap(pattern, t.pattern));
  }

  /** The subscription's volatile and latest events (live/live-hub.ts: current latest values
   * first, each version once). For a socket that is already too far behind, volatile events are
   * dropped (they could never be replayed anyway) and latest changes are held, the newest per
   * subject (held-latest.ts), until the socket drains: a slow reader costs one value per subject. */
  #live(sub: Subscription, resume: LiveReceiver['resume'], since: number): LiveSubscription {
    const core = this.#core;
    const socket = this.#socket;
    let dropped = 0;
    let held: HeldLatest | undefined;
    const sendClr = (c: LatestCleared): void => {
      // After the values taken before it (this turn's flush), as the volatile gap notice.
      core.flush();
      socket.emit('clr', { sid: sub.sid, topic: c.topic, subject: c.subject, version: c.version, reason: c.reason });
    };
    const sendRestated = (): void => {
      core.flush();
      socket.emit('gap', { sid: sub.sid, reason: 'removals', epoch: core.log.epoch });
    };
    const sendHeld = (): void => {
      const due = held!.take();
      held = undefined;
      if (sub.closed || this.#gone) return;
      // Values through this turn's flush, after the events taken for the subscription before them.
      for (const entry of due)
        if ('value' in entry) core.takeLive(sub, entry.value.wire);
        else if ('removal' in entry) sendClr(entry.removal);
        else sendRestated();
    };
    const behind = (): boolean => this.backlog() + core.pending(sub) >= core.options.maxBufferedEvents;
    /** Holds a value or a removal (see held-latest.ts), sending what is held once the socket drains. */
    const holding = (): HeldLatest => {
      if (held === undefined) {
        held = new HeldLatest();
        void this.whenWritable().then(sendHeld);
      }
      return held;
    };
    const live = core.fete.live.subscribe({
      pattern: sub.pattern,
      tenant: this.#caller.tenant,
      resume,
      since,
      // Held like values while the socket is behind (a stalled reader would queue every clear).
      cleared: (c) => {
        if (sub.closed || this.#gone) return;
        if (held !== undefined || behind()) holding().holdRemoval(c);
        else sendClr(c);
      },
      // The resume is older than the removals kept: a `removals` gap after the snapshot's values.
      restated: () => {
        if (sub.closed || this.#gone) return;
        if (held !== undefined || behind()) holding().holdRestated();
        else sendRestated();
      },
      visible: (e) => this.visible(e),
      deliver: (ev) => {
        if (sub.closed || this.#gone) return;
        // Waiting in the socket's buffer or for this turn's flush: both count.
        const late = behind();
        if (ev.envelope.volatile && late) {
          core.counters.volatileDropped++;
          dropped++;
          return;
        }
        // While values are held, later ones are held too, so that none overtakes an older one.
        if (!ev.envelope.volatile && (late || held !== undefined)) {
          holding().hold(ev);
          return;
        }
        if (dropped > 0) {
          // Told in its place: before the first live event after the hole (events taken before
          // it go out first).
          core.flush();
          socket.emit('gap', { sid: sub.sid, reason: 'volatile', dropped, epoch: core.log.epoch });
          dropped = 0;
        }
        core.takeLive(sub, ev.wire);
      },
      // A snapshot page as one `evs` packet.
      deliverMany: (evs) => {
        if (!sub.closed && !this.#gone) this.send(sub.sid, evs.map((ev) => ev.wire));
      },
    });
    live.ready.catch((err: Error) => {
      // As a failed replay: the client resubscribes after reconnecting and gets the values then.
      debug('disconnecting socket %s: the latest values for %s could not be read: %s', socket.id, sub.pattern, err.message);
      socket.disconnect(true);
    });
    sub.withLive(() => live.close());
    return live;
  }

  #drop(sid: string): void {
    const old = this.#subs.get(sid);
    if (!old) return;
    this.#subs.delete(sid);
    this.#core.unregister(old);
    this.#presence?.unsubscribed(sid);
  }

  #unsub(packet: unknown, ack: (res: { ok: boolean }) => void): void {
    if (!isObject(packet) || typeof packet.sid !== 'string') return ack({ ok: false });
    this.#drop(packet.sid);
    ack({ ok: true });
  }

  #emit(packet: unknown, ack: (res: EmitAck) => void): void {
    if (!Array.isArray(packet)) return ack({ ok: false, error: { code: 'MALFORMED', message: 'emit expects an array of encoded envelopes' } });
    if (packet.length > PROTOCOL_LIMITS.maxEmitBatch)
      return ack({ ok: false, error: { code: 'TOO_LARGE', message: `at most ${PROTOCOL_LIMITS.maxEmitBatch} envelopes per emit` } });
    if (this.#queuedEmits >= MAX_QUEUED_EMITS)
      return ack({ ok: false, error: { code: 'RATE_LIMITED', message: 'too many emits in flight on this socket: retry later' } });
    this.#queuedEmits++;
    const core = this.#core;
    const run = async (): Promise<void> => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<EmitAck>((resolve) => {
        // The append may still commit after this answer; the client's resend is then a duplicate.
        timer = setTimeout(() => resolve({ ok: false, error: { code: 'TIMEOUT', message: 'emit took too long: retry' } }), EMIT_ACK_DEADLINE_MS);
      });
      const work = applyClientEmits(core.fete, { caller: this.#caller, authorize: core.options.authorize, maxPayloadBytes: core.options.maxPayloadBytes }, packet).then(
        (results): EmitAck => {
          for (const r of results) core.counters.emits[r.status]++;
          return { ok: true, results };
        },
        (err: unknown): EmitAck => ({ ok: false, error: toWireError(err) }),
      );
      try {
        ack(await Promise.race([work, deadline]));
        await work; // the next packet waits for this one's append, answered or not
      } finally {
        clearTimeout(timer);
        this.#queuedEmits--;
      }
    };
    this.#emitChain = (this.#emitChain ?? Promise.resolve()).then(run).catch((err: Error) => debug('emit failed: %s', err.message));
  }

  /** Commands (`cmd`) and result reads (`cmdr`) run concurrently (each in its own transaction); past
   * MAX_INFLIGHT_COMMANDS a socket is told to retry. */
  #cmd(packet: unknown, ack: (res: CmdAck) => void, answer = answerCommandPacket): void {
    if (this.#commandsInFlight >= MAX_INFLIGHT_COMMANDS)
      return ack({ ok: false, error: { code: 'RATE_LIMITED', message: 'too many commands in flight on this socket: retry later' } });
    this.#commandsInFlight++;
    const o = this.#core.options;
    void answer(this.#core.fete as CommandTarget, { caller: this.#caller, authorize: o.authorize, maxPayloadBytes: o.maxPayloadBytes }, packet, ack).finally(
      () => this.#commandsInFlight--,
    );
  }

  #close(): void {
    this.#gone = true;
    for (const sub of this.#subs.values()) this.#core.unregister(sub);
    this.#subs.clear();
    this.#presence?.close();
    this.#drained();
    this.#core.sessionClosed(this);
  }
}
