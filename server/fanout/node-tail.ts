// The node's one live tail of the log, shared by every browser door of a fete: the Socket.IO
// subscriptions of every `fete.attach` and the SSE streams of every `fete.express` register here,
// in one pattern index per door, and are routed from one LogTail (log-tail.ts), which over the NATS
// bus (`createFete({ bus })`) follows the bus's view of the log and reads the store only on a gap.
// Before, each SSE stream ran its own follow() over the store: every append in another process
// woke every stream and each ran its own read (1,000 streams: 1,000 queries per remote commit; see
// test/http/sse-shared-tail.test.ts). Now a remote commit costs this node one read, or none over the bus.
//
// The security rule is applied here, once for both doors: a receiver gets an event only if
// `exposure.visible(e, receiver.tenant)` (security/exposure.ts), the same predicate every replay
// passes to follow(). Made at the first door (Doors.tail), closed with the fete.
import createDebug from 'debug';
import type { Envelope } from '../../shared/index.js';
import { PatternIndex } from '../../shared/index.js';
import type { BusTail, EventBus } from '../bus/event-bus.js';
import { type FollowFrom, type Start, resolveStart } from '../log/start.js';
import { type Exposure, exposureOf } from '../security/exposure.js';
import type { FeteLog } from '../types.js';
import type { TopicCatalog } from '../../shared/index.js';
import { LogTail } from './log-tail.js';

const debug = createDebug('fete:fanout');

/** What a door registers: a pattern, for the caller of a tenant (only its events are routed). */
export interface TailReceiver {
  readonly pattern: string;
  readonly tenant: string;
}

/** A door of the node (one attached fanout, one Express router): gets the events its receivers
 * may see, in seq order, synchronously, then `routed` once the tail has routed what it had. */
export interface TailDoor<R extends TailReceiver> {
  /** `receivers`: those of this door whose pattern matches and to which `e` is visible (never empty). */
  route(e: Envelope, receivers: readonly R[]): void;
  routed(): void;
}

/** The tail's reading options, given by the first door (attach's or express's). */
export interface NodeTailOptions {
  /** The log is read this often without a notification; a later door may only lower it. */
  pollIntervalMs: number;
  /** Events per read of the log. */
  pageSize: number;
}

/** The node-level counters of `fete.fanoutStats()`. */
export interface NodeTailStats {
  eventsRouted: number;
  tailCursor: number;
  bus?: { received: number; skipped: number; lost: number; reads: number; subscribed: number };
}

/** What the tail needs of the fete. */
export interface NodeTailTarget {
  readonly log: FeteLog;
  readonly topics: TopicCatalog;
  readonly bus?: EventBus | undefined;
}

interface DoorEntry {
  readonly index: PatternIndex<TailReceiver>;
  /** (tenant, pattern) registrations of this door, counted: what it asked the bus for. */
  readonly wants: Map<string, number>;
}

export class NodeTail {
  readonly log: FeteLog;
  /** What may leave for a browser (exposed topics, the caller's tenant). */
  readonly exposure: Exposure;
  readonly #tail: LogTail;
  readonly #bus: BusTail | undefined;
  readonly #doors = new Map<TailDoor<never>, DoorEntry>();
  #eventsRouted = 0;
  #closing: Promise<void> | undefined;

  constructor(target: NodeTailTarget, o: NodeTailOptions) {
    this.log = target.log;
    this.exposure = exposureOf(target.topics);
    // Over the NATS bus the tail follows the bus's view: only the events of its receivers' patterns.
    this.#bus = target.bus?.tail(target.log);
    this.#tail = new LogTail(target.log, {
      pollIntervalMs: target.bus?.options.pollIntervalMs ?? o.pollIntervalMs,
      pageSize: o.pageSize,
      route: (e) => this.#route(e),
      routed: () => this.#routed(),
      live: this.#bus,
      wants: (subject, tenant) => this.#wants(subject, tenant),
      gapReadDelayMs: target.bus?.options.gapReadDelayMs,
    });
  }

  /** Every event with seq <= cursor has been routed (to the receivers registered then). */
  get cursor(): number {
    return this.#tail.cursor;
  }

  /** Resolves once the tail knows where it starts. */
  ready(): Promise<void> {
    return this.#tail.ready();
  }

  /** A door asks for the log to be read at least this often (without the bus, whose own
   * `pollIntervalMs` rules): the tail takes the shortest interval asked for. */
  pollAtLeastEvery(ms: number): void {
    if (this.#bus === undefined) this.#tail.pollAtLeastEvery(ms);
  }

  /** Where a receiver on `pattern` starts (log/start.ts): 'latest' is the tail's position, so
   * everything after it reaches the receiver live; a cursor from another log or beyond this one's
   * head, or behind what retention pruned, comes with its gaps. */
  async startCursor(from: FollowFrom, pattern: string): Promise<Start> {
    await this.#tail.ready();
    return resolveStart(this.log, from, pattern, () => this.#tail.cursor);
  }

  /** The one rule of what a receiver of `tenant` may get (security/exposure.ts): for replays' follow(). */
  visibleTo(tenant: string): (e: Envelope) => boolean {
    return (e) => this.exposure.visible(e, tenant);
  }

  /** Adds a door; its receivers are routed once registered. */
  open<R extends TailReceiver>(door: TailDoor<R>): void {
    if (!this.#doors.has(door as TailDoor<never>)) this.#doors.set(door as TailDoor<never>, { index: new PatternIndex<TailReceiver>(), wants: new Map() });
  }

  /** Removes a door and what it still had registered (its bus interest included). */
  closeDoor<R extends TailReceiver>(door: TailDoor<R>): void {
    const entry = this.#doors.get(door as TailDoor<never>);
    if (!entry) return;
    this.#doors.delete(door as TailDoor<never>);
    entry.index.clear();
    for (const [key, n] of entry.wants) {
      const [tenant, pattern] = splitKey(key);
      for (let i = 0; i < n; i++) this.#bus?.unwant(pattern, tenant);
    }
    entry.wants.clear();
  }

  /** From here on `r` gets every event after the tail's cursor that matches and is visible to it.
   * Synchronous: a receiver registered between two routings gets everything after the first. */
  register<R extends TailReceiver>(door: TailDoor<R>, r: R): void {
    const entry = this.#doors.get(door as TailDoor<never>);
    if (!entry || !entry.index.add(r.pattern, r)) return;
    const key = wantKey(r.tenant, r.pattern);
    entry.wants.set(key, (entry.wants.get(key) ?? 0) + 1);
    this.#bus?.want(r.pattern, r.tenant);
  }

  unregister<R extends TailReceiver>(door: TailDoor<R>, r: R): void {
    const entry = this.#doors.get(door as TailDoor<never>);
    if (!entry || !entry.index.remove(r.pattern, r)) return;
    const key = wantKey(r.tenant, r.pattern);
    const n = (entry.wants.get(key) ?? 1) - 1;
    if (n > 0) entry.wants.set(key, n);
    else entry.wants.delete(key);
    this.#bus?.unwant(r.pattern, r.tenant);
  }

  /** Receivers registered now, over every door. */
  get receivers(): number {
    let n = 0;
    for (const { index } of this.#doors.values()) n += index.size;
    return n;
  }

  /** The NATS bus's view of the tail, if the bus is on. */
  get bus(): BusTail | undefined {
    return this.#bus;
  }

  stats(): NodeTailStats {
    return {
      eventsRouted: this.#eventsRouted,
      tailCursor: this.#tail.cursor,
      ...(this.#bus === undefined ? {} : { bus: { ...this.#bus.stats(), subscribed: this.#bus.subscribed.length } }),
    };
  }

  /** One event to every door with a receiver it matches and may reach. Events of topics that
   * never leave the server are not even matched. */
  #route(e: Envelope): void {
    this.#eventsRouted++;
    if (!this.exposure.exposes(e.topic)) return;
    for (const [door, { index }] of this.#doors) {
      const matched = index.match(e.subject);
      if (matched.length === 0) continue;
      // match() returns a fresh array: filtered in place.
      let n = 0;
      for (const r of matched) if (this.exposure.visible(e, r.tenant)) matched[n++] = r;
      if (n === 0) continue;
      matched.length = n;
      // One door's failure is not the others': each is routed on its own.
      try {
        door.route(e, matched as never[]);
      } catch (err) {
        debug('routing event %d to a door failed: %s', e.seq, (err as Error).message);
      }
    }
  }

  #routed(): void {
    for (const door of this.#doors.keys())
      try {
        door.routed();
      } catch (err) {
        debug('sending routed events through a door failed: %s', (err as Error).message);
      }
  }

  /** Whether a receiver may want events on `subject` of `tenant` (undefined: of any tenant). */
  #wants(subject: string, tenant: string | undefined): boolean {
    for (const { index } of this.#doors.values()) if (index.match(subject).some((r) => tenant === undefined || r.tenant === tenant)) return true;
    return false;
  }

  /** Stops the tail and the bus view; doors still open are dropped. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const door of [...this.#doors.keys()]) this.closeDoor(door);
      await this.#tail.close();
      this.#bus?.close();
    })();
    return this.#closing;
  }
}

/** A pattern holds no whitespace (validatePattern): the first newline ends it. */
function wantKey(tenant: string, pattern: string): string {
  return `${pattern}\n${tenant}`;
}

/** [tenant, pattern] of a wantKey. */
function splitKey(key: string): [string, string] {
  const i = key.indexOf('\n');
  return [key.slice(i + 1), key.slice(0, i)];
}
