// The fanout of one attached Socket.IO server: the door of its sockets' subscriptions on the node's
// one live tail (node-tail.ts, shared with the SSE streams of `fete.express`), the counters, and
// where a new subscription starts. Each event the tail routes is matched once against the door's
// index and serialized once; the events the tail routes together are sent together, and every
// group of live subscriptions with the same sid that takes the same events gets one packet, framed
// once (see #route and #flush).
import { DEFAULT_MAX_ENVELOPE_BYTES, FETE_NAMESPACE, FeteError, type Envelope, type EvPacket, type EvsPacket, type WireEnvelope } from '../../shared/index.js';
import type { FollowFrom, Start } from '../log/start.js';
import type { FeteLog } from '../types.js';
import { wireForBrowser } from './browser-envelope.js';
import type { FanoutTarget } from './client-emit.js';
import type { Exposure } from '../security/exposure.js';
import type { Security } from '../security/security.js';
import type { BusTail } from '../bus/event-bus.js';
import type { NodeTail, TailDoor } from './node-tail.js';
import { evFrame } from './ev-frame.js';
import { sendingEvents } from './packet-events.js';
import type { Subscription } from './subscription.js';
import type { AttachOptions, FanoutAuthorize, FanoutStats } from './types.js';
import { zeroFanoutStats } from './fanout-stats.js';
import { RateMeter } from './rate-meter.js';

export interface ResolvedFanoutOptions {
  authorize: FanoutAuthorize | undefined;
  /** Per-socket packets are built from each event's JSON text (ev-frame.ts): only with Socket.IO's
   * default parser (no `serverOptions.parser`). */
  preEncode: boolean;
  maxPayloadBytes: number;
  maxBufferedEvents: number;
  pollIntervalMs: number;
  readPageSize: number;
}

export function resolveFanoutOptions(o: AttachOptions<never>, security: Security): ResolvedFanoutOptions {
  // Left over from when attach took its own auth: refused loudly rather than silently ignored.
  for (const k of ['auth', 'authorize'] as const)
    if (k in (o as object)) throw new FeteError('INVALID_OPTIONS', `attach: ${k} moved to createFete({ security: { ${k} } }), shared by every door`);
  const positive = (name: string, v: number | undefined, d: number) => {
    const n = v ?? d;
    if (!Number.isFinite(n) || n < 1) throw new TypeError(`attach: ${name} must be a number >= 1, got ${String(v)}`);
    return n;
  };
  return {
    authorize: security.authorize,
    preEncode: o.serverOptions?.parser === undefined,
    maxPayloadBytes: positive('maxPayloadBytes', o.maxPayloadBytes, DEFAULT_MAX_ENVELOPE_BYTES),
    maxBufferedEvents: positive('maxBufferedEvents', o.maxBufferedEvents, 1000),
    pollIntervalMs: positive('pollIntervalMs', o.pollIntervalMs, 1000),
    readPageSize: positive('readPageSize', o.readPageSize, 500),
  };
}

/** What the core reads of a socket session (socket-session.ts). */
interface SessionCount {
  readonly subscriptionCount: number;
}

/** This door's counters; `eventsRouted`, `tailCursor` and `bus` are the node tail's. */
type Counters = Omit<FanoutStats, 'sockets' | 'subscriptions' | 'tailCursor' | 'eventsSentPerSecond' | 'eventsRouted' | 'bus'>;

/** Sends one `ev` or `evs` packet to several sockets of this server, encoded and framed once. */
export type EvBroadcast = (socketIds: string[], event: 'ev' | 'evs', packet: EvPacket | EvsPacket) => void;

/** Events of subscription `sid` as one packet: `ev` for one, `evs` for several. */
export function eventsPacket(sid: string, events: WireEnvelope[]): ['ev', EvPacket] | ['evs', EvsPacket] {
  return events.length === 1 ? ['ev', { sid, e: events[0]! }] : ['evs', { sid, es: events }];
}
function countersOnly({ sockets: _s, subscriptions: _n, tailCursor: _t, eventsSentPerSecond: _r, eventsRouted: _e, bus: _b, ...counters }: FanoutStats): Counters {
  return counters;
}

export class FanoutCore implements TailDoor<Subscription> {
  readonly fete: FanoutTarget;
  readonly log: FeteLog;
  readonly options: ResolvedFanoutOptions;
  /** What may leave for a browser (exposed topics, the caller's tenant): see security/exposure.ts. */
  readonly exposure: Exposure;
  /** The node's one live tail, shared with the other doors. */
  readonly tail: NodeTail;
  readonly counters: Counters = countersOnly(zeroFanoutStats());
  readonly #sessions = new Set<SessionCount>();

  readonly #broadcast: EvBroadcast;
  /** Events routed since the last #flush, serialized, and what each live subscription took of
   * them (indices into #batch, ascending = seq order). */
  #batch: WireEnvelope[] = [];
  #taken = new Map<Subscription, number[]>();
  /** Index in #batch of each live (volatile, latest) event taken since the last flush, by its wire
   * object (one per event, shared by every receiver). */
  #liveIndex = new Map<WireEnvelope, number>();
  #flushQueued = false;
  readonly #sentRate = new RateMeter(() => this.counters.eventsSent);

  constructor(fete: FanoutTarget, options: ResolvedFanoutOptions, broadcast: EvBroadcast) {
    this.fete = fete;
    this.log = fete.log;
    this.options = options;
    this.#broadcast = broadcast;
    this.tail = fete.browserTail({ pollIntervalMs: options.pollIntervalMs, pageSize: options.readPageSize });
    this.exposure = this.tail.exposure;
    this.tail.open(this);
  }

  /**
   * One event to the live subscriptions of this door it matches and may reach (the node tail
   * checked both): serialized once here, sent at #flush, which the tail calls once it has routed
   * what it had (every event of a page it read, or every local commit that completed in the same turn).
   */
  route(e: Envelope, subs: readonly Subscription[]): void {
    const wire = wireForBrowser(e);
    const seq = e.seq!;
    let index = -1;
    for (const sub of subs) {
      if (!sub.take(seq, wire)) continue;
      if (index < 0) index = this.#batch.push(wire) - 1;
      const taken = this.#taken.get(sub);
      if (taken) taken.push(index);
      else this.#taken.set(sub, [index]);
    }
  }

  /** The tail routed what it had: sent now (see flush). */
  routed(): void {
    this.flush();
  }

  /**
   * Sends what the live subscriptions took since the last flush: one packet per subscription
   * (`ev`, or `evs` for several events) instead of one per event, so that a burst of commits
   * reaches each socket as one frame, not one per commit. The packet differs between
   * subscriptions only by sid and by which events they took, and the browser client numbers its
   * subscriptions from `s0` on every page, so most receivers share both: each such group gets one
   * Socket.IO broadcast to the sockets' own rooms, which encodes the packet and builds its
   * WebSocket frame once and writes the same bytes to every socket (as a plain `io.to(room).emit`
   * does). Sending per socket cost a JSON.stringify of the whole envelope, a Buffer and a frame
   * for each of them. Measured in the fanout benchmark (500 subscribers, PostgreSQL): server CPU
   * per delivery, appends included, went from 13 us to 5.8 us with the shared frame (plain
   * Socket.IO room broadcast: 3.5 us); see bench/scenarios/fanout.ts for what batching added.
   * Must run before anything else is sent to a subscription that took events (a gap: see
   * socket-session.ts), so that each subscription's packets stay in seq order.
   */
  flush(): void {
    this.#liveIndex.clear();
    if (this.#taken.size === 0) {
      this.#batch.length = 0;
      return;
    }
    const batch = this.#batch;
    const taken = this.#taken;
    this.#batch = [];
    this.#taken = new Map();
    const groups = new Map<string, { sid: string; indices: number[]; subs: Subscription[] }>();
    for (const [sub, indices] of taken) {
      const key = indices.length === 1 ? `${sub.sid}\n${indices[0]}` : `${sub.sid}\n${indices.join(',')}`;
      const group = groups.get(key);
      if (group) group.subs.push(sub);
      else groups.set(key, { sid: sub.sid, indices, subs: [sub] });
    }
    // Each event's JSON, made once for all the per-socket packets that carry it (ev-frame.ts).
    const texts = this.options.preEncode ? new Array<string | undefined>(batch.length) : undefined;
    for (const { sid, indices, subs } of groups.values()) {
      const events = indices.map((i) => batch[i]!);
      if (subs.length === 1) subs[0]!.push(events, texts && evFrame(FETE_NAMESPACE, sid, indices.map((i) => (texts[i] ??= JSON.stringify(batch[i])))));
      else {
        this.counters.eventsSent += subs.length * events.length;
        const [event, packet] = eventsPacket(sid, events);
        const socketIds = subs.map((s) => s.socketId);
        sendingEvents(events.length, () => this.#broadcast(socketIds, event, packet));
      }
    }
  }

  /**
   * A volatile or latest event for a live subscription (live/live-hub.ts hands the same wire
   * object to every receiver): taken like a routed log event, so that the subscriptions that get
   * the same events share one packet and one frame (see flush), sent once this turn's I/O is handled.
   * Sending per socket cost the hub a packet encoding per subscriber.
   */
  takeLive(sub: Subscription, wire: WireEnvelope): void {
    let index = this.#liveIndex.get(wire);
    if (index === undefined) {
      index = this.#batch.push(wire) - 1;
      this.#liveIndex.set(wire, index);
    }
    const taken = this.#taken.get(sub);
    if (taken) taken.push(index);
    else this.#taken.set(sub, [index]);
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      // After the I/O callbacks of this turn (setImmediate, not a microtask): every emit whose
      // publish completes in the same turn shares the packet, as commits do on the log's path.
      setImmediate(() => {
        this.#flushQueued = false;
        this.flush();
      });
    }
  }

  /** Events taken for `sub` and not sent yet (they wait for the next flush). */
  pending(sub: Subscription): number {
    return this.#taken.get(sub)?.length ?? 0;
  }

  register(sub: Subscription): void {
    this.tail.register(this, sub);
  }

  unregister(sub: Subscription): void {
    sub.close();
    this.#taken.delete(sub);
    this.tail.unregister(this, sub);
  }

  /** The NATS bus's view of the node's tail, if the bus is on (stats and tests). */
  get bus(): BusTail | undefined {
    return this.tail.bus;
  }

  sessionOpened(s: SessionCount): void {
    this.#sessions.add(s);
  }

  sessionClosed(s: SessionCount): void {
    this.#sessions.delete(s);
  }

  /** Where a subscription on `pattern` starts (log/start.ts): 'latest' is the tail's position, so
   * everything after it reaches the subscription live; a cursor from another log or beyond this
   * one's head, or behind what retention pruned, comes with its gaps. */
  startCursor(from: FollowFrom, pattern: string): Promise<Start> {
    return this.tail.startCursor(from, pattern);
  }

  stats(): FanoutStats {
    let subscriptions = 0;
    for (const s of this.#sessions) subscriptions += s.subscriptionCount;
    return {
      sockets: this.#sessions.size,
      subscriptions,
      ...this.counters,
      eventsSentPerSecond: this.#sentRate.perSecond(),
      emits: { ...this.counters.emits },
      // The node's tail (shared with the SSE streams): its counters, not this door's.
      ...this.tail.stats(),
    };
  }

  /** Leaves the node's tail (which runs on for the other doors until the fete stops). */
  async close(): Promise<void> {
    this.#sentRate.close();
    this.tail.closeDoor(this);
  }
}
