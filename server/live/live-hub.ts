// The receiving side of `volatile` and `latest` topics in one process: every door's subscription
// (a Socket.IO subscription, an SSE stream) registers a receiver here, and this one place routes
// the live channel's messages to them, checks what may leave (the door's `visible`: exposure and
// tenant, security/exposure.ts), and gives a new receiver the current latest values first.
//
// Latest, exactly once: a receiver is put in the index *before* its snapshot is read, and changes
// that arrive while the snapshot is being read wait in its buffer. Each value carries its
// subject's version; the receiver keeps the highest version handed over per subject and drops any
// value at or below it. So a change racing the snapshot is handed over once (from the snapshot or
// from the buffer, whichever has the higher version), then changes follow in version order, and a
// stale value (a NOTIFY overtaken by a later one read in the snapshot) is never handed over.
// After a lost channel connection (`onLost`) every latest receiver reads its snapshot again: what
// it missed arrives then, once, by the same version rule.
//
// Clears and expiries (latest-clears.ts) travel as `latest` messages too and follow the same
// version rule: a removal is handed over when the receiver handed over a value of the subject at a
// lower version (a receiver that never had the value has nothing to remove). A receiver of a
// resume (the client had values before) is also told, after its snapshot, of the removals it may
// have missed: those settled at or after its cursor, or not settled yet (latest-clears.ts), and of
// any later removal, known value or not: its client may hold a value this process never sent it.
// A resume from before what was pruned (or from another log) cannot be told which removals it
// missed: it is told instead that its snapshot is complete (`restated`: values it holds that the
// snapshot did not restate are gone). A fresh subscription reads no removal.
// After `onLost`, the re-read includes the removals (since the receiver's start) of the subjects
// it holds.
//
// Volatile events are handed over as they come; nothing is kept for them. While a snapshot is being
// read they wait in the same buffer (at most MAX_BUFFERED_VOLATILE, then dropped: they are
// droppable by definition), so a receiver gets events in the order they reached this process,
// after the values that were current when it subscribed.
import superjson from 'superjson';
import createDebug from 'debug';
import { type Envelope, type LatestCleared, PatternIndex, type TopicCatalog, type WireEnvelope, patternsOverlap } from '../../shared/index.js';
import type { LiveChannel, LiveMessage } from '../bus/live-channel.js';
import { isExposed } from '../security/exposure.js';
import { Headers } from '../../shared/envelope.js';
import { clearedOf } from './latest-clears.js';
import type { LatestStore } from './latest-store.js';
import type { FollowFrom, Start } from '../log/start.js';

const debug = createDebug('fete:live');

/** Values read per snapshot page. */
const SNAPSHOT_PAGE = 500;
/** Volatile events a receiver keeps while its snapshot is read; later ones are dropped. */
const MAX_BUFFERED_VOLATILE = 1000;

/** One live event as receivers get it: decoded once, its wire forms made once for every receiver. */
export interface LiveEvent {
  /** The envelope, marked `volatile: true` or with its `version`; no seq, no context. */
  readonly envelope: Envelope;
  /** The superjson object sent in Socket.IO `ev` packets. */
  readonly wire: WireEnvelope;
  /** The superjson text (SSE `data:`). */
  text(): string;
}

/** What a door registers. */
export interface LiveReceiver {
  pattern: string;
  /** The caller's tenant: snapshots read this tenant's values only. */
  tenant: string;
  /** Whether the event may be sent to this caller (exposure and tenant; the door's one rule). */
  visible(e: Envelope): boolean;
  deliver(event: LiveEvent): void;
  /** Several events at once (a snapshot page), in order: one packet instead of one per value.
   * @default one `deliver` per event */
  deliverMany?(events: LiveEvent[]): void;
  /** A latest value this receiver's client holds is gone (cleared or expired), in order with
   * `deliver`. @default dropped (the door cannot tell its client) */
  cleared?(notice: LatestCleared): void;
  /** The client resumes from log position `after` (it may hold values from before: see
   * `resumeOf`): the removals it may have missed follow its snapshot, and removals are sent whether
   * or not this receiver handed the value over. `after` undefined: a cursor of another log.
   * @default undefined (a fresh subscription: no removals read) */
  resume?: { after: number | undefined } | undefined;
  /** The log position the door started the subscription after: a re-read after a lost channel
   * reads the removals from there. @default 0 */
  since?: number;
  /** The snapshot just handed over is complete (a resume older than the removals kept): every
   * value the client holds that it did not restate is gone. In order with `deliver` and `cleared`.
   * @default the removals kept are read instead, all of them */
  restated?(): void;
}

/** What a door's subscription resumes from: undefined for a fresh one (`latest`, `earliest`), the
 * start's cursor for a resume, `after` undefined when the cursor was of another log (a `reset` or
 * `ahead` gap: nothing it holds can be checked against this store). One rule for every door. */
export function resumeOf(from: FollowFrom, start: Start): LiveReceiver['resume'] {
  if (from === 'latest' || from === 'earliest') return undefined;
  return { after: start.gaps.some((g) => g.reason !== 'pruned') ? undefined : start.cursor };
}

export interface LiveSubscription {
  /** Whether the receiver's pattern covers latest topics (it gets their current values first). */
  readonly snapshot: boolean;
  /** Resolves when the current latest values were handed over (at once without latest topics). */
  readonly ready: Promise<void>;
  close(): void;
}

/** A removal waiting in a receiver's buffer. */
type Removal = { readonly removal: LatestCleared };
type Buffered = LiveEvent | Removal;

class Receiver {
  snapshotting = 0;
  /** Events that arrived while the snapshot was read, in arrival order. */
  buffer: Buffered[] = [];
  bufferedVolatile = 0;
  /** Highest version handed over, per subject (latest topics only). */
  readonly versions = new Map<string, number>();
  closed = false;
  constructor(
    readonly r: LiveReceiver,
    /** The exposed latest topics its pattern can match. */
    readonly latestTopics: string[],
  ) {}

  /** An event from the channel: handed over, or buffered while the snapshot is read. */
  take(ev: Buffered): void {
    if (this.snapshotting === 0) return this.handOver(ev);
    if ('envelope' in ev && ev.envelope.volatile && this.bufferedVolatile++ >= MAX_BUFFERED_VOLATILE) return;
    this.buffer.push(ev);
  }

  handOver(ev: Buffered): void {
    if ('removal' in ev) {
      if (this.admitRemoval(ev.removal, this.r.resume === undefined)) this.r.cleared?.(ev.removal);
    } else if (this.admit(ev)) this.r.deliver(ev);
  }

  /** Whether a removal is due: open, above the version handed over for its subject, and (when
   * `known`) of a subject this receiver handed a value of (recorded as handed over). */
  admitRemoval(c: LatestCleared, known: boolean): boolean {
    if (this.closed || this.r.cleared === undefined) return false;
    const had = this.versions.get(c.subject);
    if (known && had === undefined) return false;
    if ((had ?? 0) >= c.version) return false;
    this.versions.set(c.subject, c.version);
    return true;
  }

  /** Whether `ev` is due: open, and a latest value above the version handed over for its subject
   * (recorded as handed over). */
  admit(ev: LiveEvent): boolean {
    if (this.closed) return false;
    const { subject, version } = ev.envelope;
    if (version === undefined) return true;
    if ((this.versions.get(subject) ?? 0) >= version) return false;
    this.versions.set(subject, version);
    return true;
  }
}

export class LiveHub {
  readonly #catalog: TopicCatalog;
  readonly #latest: LatestStore;
  readonly #index = new PatternIndex<Receiver>();
  readonly #receivers = new Set<Receiver>();
  /** Exposed topics that are not in the log, by delivery. */
  readonly #volatile: string[];
  readonly #latestTopics: Array<{ name: string; pattern: string }>;
  readonly #off: Array<() => void>;

  constructor(catalog: TopicCatalog, channel: LiveChannel, latest: LatestStore) {
    this.#catalog = catalog;
    this.#latest = latest;
    const exposed = Object.values(catalog).filter(isExposed);
    this.#volatile = exposed.filter((t) => t.delivery === 'volatile').map((t) => t.pattern);
    this.#latestTopics = exposed.filter((t) => t.delivery === 'latest').map((t) => ({ name: t.name, pattern: t.pattern }));
    this.#off = [
      channel.on('volatile', (m) => this.#route(m)),
      channel.on('latest', (m) => this.#route(m)),
      channel.onLost(() => this.#resync()),
    ];
  }

  /** Whether a subscription on `pattern` can receive anything from here. */
  covers(pattern: string): boolean {
    return this.#volatile.some((p) => patternsOverlap(pattern, p)) || this.#latestTopics.some((t) => patternsOverlap(pattern, t.pattern));
  }

  /** Registers a receiver: live events from now on, and the current latest values of its pattern
   * first (their reading may overlap the first live events; each version is handed over once). */
  subscribe(r: LiveReceiver): LiveSubscription {
    const latestTopics = this.#latestTopics.filter((t) => patternsOverlap(r.pattern, t.pattern)).map((t) => t.name);
    const receiver = new Receiver(r, latestTopics);
    this.#index.add(r.pattern, receiver);
    this.#receivers.add(receiver);
    const ready = latestTopics.length === 0 ? Promise.resolve() : this.#snapshot(receiver);
    return {
      snapshot: latestTopics.length > 0,
      ready,
      close: () => {
        if (receiver.closed) return;
        receiver.closed = true;
        receiver.buffer = [];
        this.#receivers.delete(receiver);
        this.#index.remove(r.pattern, receiver);
      },
    };
  }

  /** The current latest values of `tenant` matching `pattern` (every latest topic, exposed or not:
   * for server code, e.g. `fete.latest`). */
  async values(pattern: string, tenant: string): Promise<Envelope[]> {
    const topics = Object.values(this.#catalog)
      .filter((t) => t.delivery === 'latest' && patternsOverlap(pattern, t.pattern))
      .map((t) => t.name);
    const out: Envelope[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.#latest.page({ tenant, pattern, topics, after, limit: SNAPSHOT_PAGE });
      out.push(...page);
      if (page.length < SNAPSHOT_PAGE) return out;
      after = page.at(-1)!.subject;
    }
  }

  close(): void {
    for (const off of this.#off) off();
    this.#index.clear();
    this.#receivers.clear();
  }

  #route(m: LiveMessage): void {
    const receivers = this.#index.match(m.subject);
    if (receivers.length === 0) return;
    const removal = m.kind === 'latest' ? clearedOf(m.data) : undefined;
    if (removal !== undefined) return this.#routeRemoval(receivers, m.tenant, removal);
    let ev: LiveEvent;
    try {
      ev = liveEvent(m.data as WireEnvelope);
    } catch (err) {
      debug('skipped a %s message on %s: %s', m.kind, m.subject, (err as Error).message);
      return;
    }
    for (const receiver of receivers) {
      if (receiver.closed || !receiver.r.visible(ev.envelope)) continue;
      receiver.take(ev);
    }
  }

  /** A removal, to the receivers whose caller may see its topic in its tenant. */
  #routeRemoval(receivers: Receiver[], tenant: string, removal: LatestCleared): void {
    // The door's one rule, asked about the removed value's topic and tenant.
    const probe: Envelope = { id: '', topic: removal.topic, subject: removal.subject, time: '', headers: tenant === '' ? {} : { [Headers.tenant]: tenant }, payload: undefined, context: {} };
    for (const receiver of receivers) {
      if (receiver.closed || receiver.r.cleared === undefined || !receiver.latestTopics.includes(removal.topic) || !receiver.r.visible(probe)) continue;
      receiver.take({ removal });
    }
  }

  /** Reads the receiver's current values (and, on a resume, the removals it may have missed) and
   * hands over what is due; `resync`: a re-read after a lost channel (removals of the subjects it
   * holds only, unless it is a resume). */
  async #snapshot(receiver: Receiver, resync = false): Promise<void> {
    const { r } = receiver;
    receiver.snapshotting++;
    try {
      // A resume already beyond the removals kept reads none of them (checked again below).
      const checked = !resync && r.resume !== undefined && r.restated !== undefined;
      let complete = checked && (await this.#beyondRemovals(r.tenant, r.resume!.after));
      let after: string | undefined;
      for (;;) {
        const page = await this.#latest.page({ tenant: r.tenant, pattern: r.pattern, topics: receiver.latestTopics, after, limit: SNAPSHOT_PAGE });
        const due = page.filter((e) => r.visible(e)).map((e) => liveEvent(superjson.serialize(e) as WireEnvelope)).filter((ev) => receiver.admit(ev));
        if (due.length > 0) {
          if (r.deliverMany) r.deliverMany(due);
          else for (const ev of due) r.deliver(ev);
        }
        if (receiver.closed || page.length < SNAPSHOT_PAGE) break;
        after = page.at(-1)!.subject;
      }
      if (!complete && r.cleared && (r.resume !== undefined || resync)) {
        const since = resync ? (r.resume?.after ?? r.since ?? 0) : r.restated === undefined ? undefined : r.resume!.after;
        await this.#tombstones(receiver, r.resume === undefined, since);
        // A prune that ran since the first check may have deleted a removal before it was read: the
        // horizon moves in the same statement as the delete, so it shows here.
        if (checked) complete = await this.#beyondRemovals(r.tenant, r.resume!.after);
      }
      // Before the changes buffered meanwhile (handed over next): they are newer than the snapshot.
      if (complete && !receiver.closed) r.restated!();
    } finally {
      // Changes that raced the reading, in arrival order; stale ones are dropped by version.
      if (--receiver.snapshotting === 0) {
        const buffered = receiver.buffer;
        receiver.buffer = [];
        receiver.bufferedVolatile = 0;
        for (const ev of buffered) receiver.handOver(ev);
      }
    }
  }

  /** Whether a resume from `after` is older than the removals kept for `tenant` (or from another
   * log): it cannot be told which of its values were removed. */
  async #beyondRemovals(tenant: string, after: number | undefined): Promise<boolean> {
    if (after === undefined) return true;
    const pruned = await this.#latest.prunedThrough(tenant);
    return pruned !== undefined && pruned >= after;
  }

  /** Hands over the removals of the receiver's pattern that are due (`known`: of subjects it
   * handed a value of; `since`: settled at or after that log position, or not yet). Read only on
   * resumes and resyncs; bounded by what is kept (retention.removalsMs). */
  async #tombstones(receiver: Receiver, known: boolean, since: number | undefined): Promise<void> {
    const { r } = receiver;
    let after: string | undefined;
    for (;;) {
      if (receiver.closed) return;
      const page = await this.#latest.tombstones({ tenant: r.tenant, pattern: r.pattern, topics: receiver.latestTopics, after, limit: SNAPSHOT_PAGE, since });
      for (const c of page) if (receiver.admitRemoval(c, known)) r.cleared!(c);
      if (page.length < SNAPSHOT_PAGE) return;
      after = page.at(-1)!.subject;
    }
  }

  #resync(): void {
    for (const receiver of this.#receivers)
      if (receiver.latestTopics.length > 0)
        this.#snapshot(receiver, true).catch((err: Error) => debug('re-reading latest values for %s failed: %s', receiver.r.pattern, err.message));
  }
}

/** A live event from its wire form (trusted: it was made by a fete process of this deployment). */
function liveEvent(wire: WireEnvelope): LiveEvent {
  const envelope = superjson.deserialize<Envelope>(wire as Parameters<typeof superjson.deserialize>[0]);
  let text: string | undefined;
  return { envelope, wire, text: () => (text ??= JSON.stringify(wire)) };
}
