// Where an admitted emit goes, by its topic's `delivery` (shared/topic.ts): after the one admission
// (admit-server.ts, admit-client.ts) every door's envelopes pass here, and the route splits:
//   log       -> appended to the log (log/log-writer.ts), as always;
//   volatile  -> published on the live channel (bus/), never stored;
//   latest    -> upserted as its subject's current value (live/latest-store.ts), then published
//                with the version the upsert gave it.
// Live events are checked against the channel's message limit first (LIVE_TOO_LARGE, nothing done),
// then the non-durable listeners of the emitting process run on them (as after a log commit). A
// batch that mixes deliveries keeps each event's result in its place; the log part and the live
// part are not ordered with respect to each other (the log part is appended first, and a live part
// is sent only if it succeeded).
import { type AnyTopic, type Envelope, FeteError, type TopicCatalog, type TopicDelivery, topicByName } from '../../shared/index.js';
import type { LiveChannel, LiveMessage } from '../bus/live-channel.js';
import { wireForBrowser } from '../fanout/browser-envelope.js';
import type { EmitResult, LoggedResult } from '../emit-result.js';
import type { LatestStore } from '../live/latest-store.js';
import { tenantOf } from '../security/tenant.js';
import { RecentIds } from '../../shared/recent-ids.js';
import type { Queryable } from '../store/driver.js';
import type { EmitOptions } from '../types.js';

/** Headroom for the version (`"version":<digits>`) a latest value gets after the size check. */
const VERSION_BYTES = 24;

export interface EmitRouteDeps {
  catalog: TopicCatalog;
  channel: LiveChannel;
  latest: LatestStore;
  /** Runs the non-durable listeners of this process on live events once they are out. */
  published(envelopes: readonly Envelope[], options: ReadonlyArray<EmitOptions | undefined>): void;
}

/** Live events prepared in a transaction, sent when it commits. */
export interface PendingLive {
  results: EmitResult[];
  /** After the commit: (memory) upserts, then publishes. */
  publish(): Promise<void>;
}

/** The delivery of an envelope's topic ('log' for a name outside the catalogue: schedules). */
export function deliveryOf(catalog: TopicCatalog, topic: AnyTopic | string): TopicDelivery {
  const t = typeof topic === 'string' ? topicByName(catalog, topic) : topic;
  return t?.delivery ?? 'log';
}

export class EmitRoute {
  /** Volatile events and latest values this process published lately, by tenant and id, with the
   * version a latest value got: a resend of one (its ack was lost and the outbox or an HTTP caller
   * sent it again) is a duplicate, not sent (or stored) twice, answered with that version; a resent
   * batch of latest values would otherwise put an older value back over a newer one. A volatile
   * resend through another node is caught by the browser client, which drops a volatile id it had;
   * a latest one only if its id is still the current value. */
  readonly #recentLive = new RecentIds<number>(RECENT_LIVE_IDS, RECENT_LIVE_MS);

  constructor(private readonly d: EmitRouteDeps) {}

  /** Whether `e` skips the log. */
  isLive(e: Envelope): boolean {
    return deliveryOf(this.d.catalog, e.topic) !== 'log';
  }

  /** Whether a topic argument (object or name) names a topic that skips the log. */
  isLiveTopic(topic: unknown): boolean {
    return (typeof topic === 'string' || (typeof topic === 'object' && topic !== null)) && deliveryOf(this.d.catalog, topic as AnyTopic | string) !== 'log';
  }

  /**
   * Routes a batch in autocommit: log envelopes go to `appendLog` (one call, in order), live ones
   * are published. Results in input order (server/emit-result.ts): a log event's with its seq, a
   * latest value's with its version, a volatile event's with neither. A volatile event or latest
   * value whose id this process published in the last RECENT_LIVE_MS (of its last RECENT_LIVE_IDS)
   * is a duplicate, and a latest value whose id is already its subject's current value is one too
   * (a resend after a lost ack: not sent or stored again); a latest duplicate answers the version
   * its id got when this process remembers it or the id is still the current value.
   */
  async emit(
    envelopes: Envelope[],
    options: ReadonlyArray<EmitOptions | undefined> | undefined,
    appendLog: (envelopes: Envelope[], options: ReadonlyArray<EmitOptions | undefined> | undefined) => Promise<LoggedResult[]>,
  ): Promise<EmitResult[]> {
    const { log, live } = this.#split(envelopes);
    if (live.length === 0) return appendLog(envelopes, options);
    const liveEnvelopes = live.map((i) => envelopes[i]!);
    const liveOptions = live.map((i) => options?.[i]);
    this.#checkSizes(liveEnvelopes);
    const out: EmitResult[] = new Array(envelopes.length);
    // The log part first: if it fails, no live event has gone out for the batch.
    if (log.length > 0)
      (await appendLog(
        log.map((i) => envelopes[i]!),
        options && log.map((i) => options[i]),
      )).forEach((r, k) => (out[log[k]!] = r));
    const stored = await this.#store(liveEnvelopes, undefined);
    await this.#publish(liveEnvelopes, stored, liveOptions);
    live.forEach((slot, k) => (out[slot] = liveResult(liveEnvelopes[k]!, stored[k]!)));
    return out;
  }

  /**
   * Live envelopes of a transaction: checked now, upserted in `q` (the store; in memory, after the
   * commit), published by `publish()` once the transaction committed. A rolled back transaction
   * publishes nothing.
   */
  async prepare(envelopes: Envelope[], options: ReadonlyArray<EmitOptions | undefined> | undefined, q: Queryable | undefined): Promise<PendingLive> {
    this.#checkSizes(envelopes);
    const stored = q ? await this.#store(envelopes, q) : undefined;
    const opts = envelopes.map((_, i) => options?.[i]);
    return {
      results: envelopes.map((e, i) => liveResult(e, stored?.[i] ?? (this.#delivery(e) === 'latest' ? LATER : SENT))),
      publish: async () => this.#publish(envelopes, stored ?? (await this.#store(envelopes, undefined)), opts),
    };
  }

  /**
   * `tx.emit` in `fete.transaction`: log envelopes go to `appendLog` (in the transaction), live
   * ones are prepared (see `prepare`) and added to `pending`, to publish after the commit.
   */
  async inTransaction(
    envelopes: Envelope[],
    options: ReadonlyArray<EmitOptions | undefined> | undefined,
    q: Queryable | undefined,
    pending: PendingLive[],
    appendLog: (envelopes: Envelope[], options: ReadonlyArray<EmitOptions | undefined> | undefined) => Promise<LoggedResult[]>,
  ): Promise<EmitResult[]> {
    const { log, live } = this.#split(envelopes);
    if (live.length === 0) return appendLog(envelopes, options);
    const out: EmitResult[] = new Array(envelopes.length);
    const prepared = await this.prepare(
      live.map((i) => envelopes[i]!),
      live.map((i) => options?.[i]),
      q,
    );
    pending.push(prepared);
    live.forEach((slot, k) => (out[slot] = prepared.results[k]!));
    if (log.length > 0)
      (await appendLog(
        log.map((i) => envelopes[i]!),
        options && log.map((i) => options[i]),
      )).forEach((r, k) => (out[log[k]!] = r));
    return out;
  }

  #delivery(e: Envelope): TopicDelivery {
    return deliveryOf(this.d.catalog, e.topic);
  }

  #split(envelopes: readonly Envelope[]): { log: number[]; live: number[] } {
    const log: number[] = [];
    const live: number[] = [];
    envelopes.forEach((e, i) => (this.isLive(e) ? live : log).push(i));
    return { log, live };
  }

  /** LIVE_TOO_LARGE before anything is stored or sent. */
  #checkSizes(envelopes: readonly Envelope[]): void {
    const max = this.d.channel.maxMessageBytes;
    if (max === undefined) return;
    for (const e of envelopes) {
      const size = Buffer.byteLength(JSON.stringify(wireForBrowser(e))) + Buffer.byteLength(e.subject) * 2 + Buffer.byteLength(tenantOf(e)) + VERSION_BYTES;
      if (size > max)
        throw new FeteError(
          'LIVE_TOO_LARGE',
          `topic "${e.topic}": the event is about ${size} bytes, over the ${this.d.channel.transport} live channel's limit of ${max}; make the payload smaller or use delivery: 'log'`,
          { details: { topic: e.topic, size, maxBytes: max, transport: this.d.channel.transport } },
        );
    }
  }

  /** What became of each live envelope: volatile (nothing stored), the latest upsert's version, or
   * a duplicate (with the version its id got, when known). `q`: in a transaction. */
  async #store(envelopes: readonly Envelope[], q: Queryable | undefined): Promise<Stored[]> {
    // An id sent lately (or twice in this batch) is a resend: a duplicate, neither stored nor sent.
    const first = new Map<string, number>();
    const resentOf = envelopes.map((e, i) => {
      const key = liveKey(e);
      const earlier = first.get(key);
      if (earlier === undefined) first.set(key, i);
      return earlier ?? (this.#recentLive.has(key) ? RECENT : undefined);
    });
    const latest = envelopes.filter((e, i) => resentOf[i] === undefined && this.#delivery(e) === 'latest');
    const versions = latest.length === 0 ? [] : await this.d.latest.upsert(latest, q);
    let k = 0;
    const out: Stored[] = [];
    for (let i = 0; i < envelopes.length; i++) {
      const e = envelopes[i]!;
      const resent = resentOf[i];
      const isLatest = this.#delivery(e) === 'latest';
      // A volatile event never answers a version, even when its id was a latest value's.
      if (resent === RECENT) out.push({ duplicate: isLatest ? this.#recentLive.get(liveKey(e)) : undefined });
      else if (resent !== undefined) out.push({ duplicate: isLatest ? versionOf(out[resent]!) : undefined });
      else if (!isLatest) out.push(SENT);
      else {
        const version = versions[k++];
        // Its id is already the subject's current value: stored by another process (or before
        // this one's window); its version is the current value's. In a transaction the read is
        // skipped: it would wait for the transaction's own connection (PGlite has one).
        out.push(version !== undefined ? { version } : { duplicate: q === undefined ? await this.#currentVersion(e) : undefined });
      }
    }
    return out;
  }

  /** The version of `e`'s subject's current value if `e` is that value, else undefined. */
  async #currentVersion(e: Envelope): Promise<number | undefined> {
    const [current] = await this.d.latest.page({ tenant: tenantOf(e), pattern: e.subject, topics: [e.topic], limit: 1 });
    return current?.id === e.id ? current.version : undefined;
  }

  async #publish(envelopes: readonly Envelope[], stored: readonly Stored[], options: ReadonlyArray<EmitOptions | undefined>): Promise<void> {
    const sent: Envelope[] = [];
    const sentOptions: Array<EmitOptions | undefined> = [];
    for (let i = 0; i < envelopes.length; i++) {
      const e = envelopes[i]!;
      const s = stored[i]!;
      if (s === LATER || (typeof s === 'object' && 'duplicate' in s)) continue;
      const marked: Envelope = s === SENT ? { ...e, volatile: true } : { ...e, version: s.version };
      const message: LiveMessage = { kind: s === SENT ? 'volatile' : 'latest', tenant: tenantOf(e), subject: e.subject, data: wireForBrowser(marked) };
      await this.d.channel.publish(message);
      this.#recentLive.add(liveKey(e), undefined, s === SENT ? undefined : s.version);
      sent.push(marked);
      sentOptions.push(options[i]);
    }
    if (sent.length > 0) this.d.published(sent, sentOptions);
  }
}

/** How many live ids, and for how long (ms), a process remembers what it published: an outbox
 * resends within seconds of a lost ack. */
const RECENT_LIVE_IDS = 10_000;
const RECENT_LIVE_MS = 120_000;

function liveKey(e: Envelope): string {
  return `${tenantOf(e)}\n${e.id}`;
}

/** What became of a live envelope: SENT (volatile: to be sent), `{ version }` (a latest value
 * stored), a duplicate (with the version its id got, if known: latest only), or LATER. */
type Stored = typeof SENT | typeof LATER | { version: number } | { duplicate: number | undefined };
const SENT = 'sent' as const;
/** A latest value of an in-memory transaction: stored at the commit, its version unknown before. */
const LATER = 'later' as const;
/** Marks a resend of an id in #recentLive (the other resends point at their first in the batch). */
const RECENT = -1;

function versionOf(s: Stored): number | undefined {
  if (typeof s !== 'object') return undefined;
  return 'version' in s ? s.version : s.duplicate;
}

/** The result of a live envelope (server/emit-result.ts): no seq; a latest value's version. */
function liveResult(e: Envelope, s: Stored): EmitResult {
  if (typeof s !== 'object') return { id: e.id, duplicate: false };
  if ('version' in s) return { id: e.id, duplicate: false, version: s.version };
  return s.duplicate === undefined ? { id: e.id, duplicate: true } : { id: e.id, duplicate: true, version: s.duplicate };
}

/** What a listener attempt's `ctx.emit` writes to (dispatch/attempt-emits.ts), seen from here. */
export interface AttemptEmitsLike {
  emit(topic: unknown, payload: unknown, options?: EmitOptions): Promise<EmitResult>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

/**
 * `ctx.emit` of a live topic inside a listener's attempt: the event is admitted at once (a bad
 * payload throws in the handler), kept, and routed only when the attempt succeeds, like the
 * attempt's log emits; a failed attempt sends nothing. `send` routes them (EmitRoute.emit).
 * Other properties of `inner` (the attempt's `tx`) are read through.
 */
export function deferLiveEmits<A extends AttemptEmitsLike>(
  inner: A,
  catalog: TopicCatalog,
  build: (topic: unknown, payload: unknown, options?: EmitOptions) => Promise<Envelope>,
  send: (envelopes: Envelope[], options: EmitOptions[]) => Promise<unknown>,
): A {
  const envelopes: Envelope[] = [];
  const options: EmitOptions[] = [];
  const wrapper = Object.create(inner) as A;
  wrapper.emit = async (topic, payload, o = {}) => {
    if (deliveryOf(catalog, topic as AnyTopic | string) === 'log') return inner.emit(topic, payload, o);
    const envelope = await build(topic, payload, o);
    envelopes.push(envelope);
    options.push(o);
    // Sent (and, for a latest value, given its version) only when the attempt commits.
    return { id: envelope.id, duplicate: false };
  };
  wrapper.commit = async () => {
    await inner.commit();
    if (envelopes.length > 0) await send(envelopes.splice(0), options.splice(0));
  };
  wrapper.rollback = async () => {
    envelopes.length = 0;
    options.length = 0;
    await inner.rollback();
  };
  return wrapper;
}
