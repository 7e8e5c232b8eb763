// Presence of one fete process (a node): the connections present here, written to the presence
// table and announced on the live channel; the heartbeat that keeps this node's rows counted and
// the sweep that removes dead nodes' rows (announcing their leaves); and the watches, fed by the
// mirror (presence-mirror.ts). Writes are coalesced: a burst of joins and leaves of one member
// costs one row write. A change is announced after its write, so that a process that hears of it
// and reads the table finds it there (receivers order a node's rows by version, not arrival).
import { randomUUID } from 'node:crypto';
import createDebug from 'debug';
import { FeteError, matches, type PresenceChange, type PresenceMember } from '../../shared/index.js';
import type { LiveChannel, LiveMessage } from '../bus/live-channel.js';
import { FINAL_VERSION, PresenceMirror, type Watch } from './presence-mirror.js';
import type { ResolvedPresenceOptions } from './presence-options.js';
import type { PresenceKey, PresenceRow, PresenceStore } from './presence-store.js';

const debug = createDebug('fete:presence');

/** Version of a removal by the sweep, a stop or a re-registration: the node is gone for good. */
const FINAL = FINAL_VERSION;

/** One node's row of one member, in a presence message. */
interface MemberData {
  member: string;
  /** version */
  v: number;
  /** connections (0: removed) */
  c: number;
  /** state, JSON text */
  s: string | null;
  /** updatedAt, ms */
  t: number;
}

/** The `data` of a presence message on the live channel: rows of one node on the message's
 * (tenant, subject), several per message so that a crowd joining one room costs few messages. */
interface PresenceData {
  node: string;
  members: MemberData[];
}

/** A message's members are cut at this many bytes of their JSON (or the channel's limit less room
 * for the framing, if lower): PostgreSQL NOTIFY carries less than 8000 bytes. */
const MESSAGE_BUDGET = 5000;
/** Room left for the message's own framing (kind, tenant, subject, node). */
const FRAMING_BYTES = 512;
/** Tombstones are kept at least this long (ms), past 4 × ttlMs: a node's messages go out on
 * several pool connections, so one can arrive after a later one, and on a loaded machine well
 * over a second after it (4 × ttlMs is 1.2 s with the tests' ttlMs of 300). */
const TOMBSTONE_MIN_MS = 60_000;
/** Rows written by one statement. */
const WRITE_BATCH = 1000;

interface LocalMember extends PresenceKey {
  /** State per connection, with when it was set: the newest one is the member's state here. */
  conns: Map<object, { state: string | undefined; at: number }>;
  version: number;
}

// As a JSON array: tenants and public ids may hold any character (a newline-joined key let a
// tenant and a public id with newlines name another tenant's member).
const keyOf = (k: PresenceKey) => JSON.stringify([k.tenant, k.subject, k.member]);

function isMemberData(d: unknown): d is MemberData {
  if (d === null || typeof d !== 'object') return false;
  const x = d as Record<string, unknown>;
  return typeof x.member === 'string' && typeof x.v === 'number' && typeof x.c === 'number' && typeof x.t === 'number' && (x.s === null || typeof x.s === 'string');
}

function isPresenceData(d: unknown): d is PresenceData {
  if (d === null || typeof d !== 'object') return false;
  const x = d as Record<string, unknown>;
  return typeof x.node === 'string' && Array.isArray(x.members) && x.members.every(isMemberData);
}

export class PresenceHub {
  readonly #store: PresenceStore;
  readonly #channel: LiveChannel;
  readonly #o: ResolvedPresenceOptions;
  readonly #mirror = new PresenceMirror();
  readonly #local = new Map<string, LocalMember>();
  readonly #dirty = new Set<string>();
  /** The row to write for each dirty key (a removed member's too: it is gone from #local). */
  readonly #pending = new Map<string, PresenceRow>();
  readonly #watches = new Set<Watch>();
  /** Live watches per region (`tenant\npattern`): the regions the mirror holds current. */
  readonly #current = new Map<string, number>();
  readonly #unsubscribe: Array<() => void> = [];
  #node = randomUUID();
  #version = 0;
  #flushing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #started: Promise<void> | undefined;
  #stopped = false;
  readonly #exclusive: boolean;
  /** Bytes of members' JSON per live message (MESSAGE_BUDGET, or less on a smaller channel). */
  readonly #budget: number;

  /** `exclusive`: the store can be open in this process only (PGlite), so at start every other
   * node's rows are a previous run's and are removed at once rather than after `ttlMs`. */
  constructor(store: PresenceStore, channel: LiveChannel, options: ResolvedPresenceOptions, exclusive = false) {
    this.#exclusive = exclusive;
    this.#budget = Math.min(MESSAGE_BUDGET, (channel.maxMessageBytes ?? Infinity) - FRAMING_BYTES);
    this.#store = store;
    this.#channel = channel;
    this.#o = options;
    this.#unsubscribe.push(
      channel.on('presence', (m) => this.#received(m)),
      channel.onLost(() => void this.#resync()),
    );
  }

  /** This node's id in the presence table (changes if the node was swept while alive). */
  get node(): string {
    return this.#node;
  }

  /** Registers the node and starts the heartbeat and the sweep (also of a previous run's rows). */
  start(): Promise<void> {
    this.#started ??= (async () => {
      await this.#store.heartbeat(this.#node, this.#o.ttlMs, true);
      if (this.#exclusive) await this.#store.sweep(this.#node);
      this.#timer = setInterval(() => void this.tick(), this.#o.heartbeatMs);
      this.#timer.unref();
      await this.tick();
    })();
    return this.#started;
  }

  // ---- this node's connections ----

  /** Connection `conn` is present as `member` on `subject` (again: its state is replaced). */
  join(conn: object, key: PresenceKey, state: string | undefined): void {
    if (this.#stopped) return;
    const k = keyOf(key);
    let m = this.#local.get(k);
    if (!m) this.#local.set(k, (m = { ...key, conns: new Map(), version: 0 }));
    m.conns.set(conn, { state, at: Date.now() });
    this.#changed(k, m);
  }

  /** Sets the state of a present connection; false if it is not present there. */
  setState(conn: object, key: PresenceKey, state: string): boolean {
    const k = keyOf(key);
    const m = this.#local.get(k);
    const c = m?.conns.get(conn);
    if (!m || !c) return false;
    c.state = state;
    c.at = Date.now();
    this.#changed(k, m);
    return true;
  }

  leave(conn: object, key: PresenceKey): void {
    const k = keyOf(key);
    const m = this.#local.get(k);
    if (!m?.conns.delete(conn)) return;
    this.#changed(k, m);
  }

  #changed(k: string, m: LocalMember): void {
    m.version = ++this.#version;
    const row = this.#rowOf(m);
    if (m.conns.size === 0) this.#local.delete(k);
    this.#dirty.add(k);
    this.#pending.set(k, row);
    this.#flushSoon();
  }

  #rowOf(m: LocalMember): PresenceRow {
    let newest: { state: string | undefined; at: number } | undefined;
    for (const c of m.conns.values()) if (c.state !== undefined && (newest === undefined || c.at >= newest.at)) newest = c;
    return {
      tenant: m.tenant,
      subject: m.subject,
      member: m.member,
      node: this.#node,
      connections: m.conns.size,
      state: newest?.state,
      version: m.version,
      updatedAt: newest?.at ?? Date.now(),
    };
  }

  /** Announces rows: one message per (tenant, subject, node), cut to fit MESSAGE_BUDGET. */
  #announce(rows: readonly PresenceRow[]): void {
    const groups = new Map<string, { row: PresenceRow; members: MemberData[]; size: number }[]>();
    for (const r of rows) {
      const k = JSON.stringify([r.tenant, r.subject, r.node]);
      const m: MemberData = { member: r.member, v: r.version, c: r.connections, s: r.state ?? null, t: r.updatedAt };
      const size = Buffer.byteLength(JSON.stringify(m)) + 1;
      let list = groups.get(k);
      if (!list) groups.set(k, (list = []));
      const last = list.at(-1);
      if (last && last.size + size <= this.#budget) {
        last.members.push(m);
        last.size += size;
      } else list.push({ row: r, members: [m], size });
    }
    for (const list of groups.values())
      for (const { row, members } of list) {
        const data: PresenceData = { node: row.node, members };
        this.#channel.publish({ kind: 'presence', tenant: row.tenant, subject: row.subject, data }).catch((err: Error) => debug('presence message not sent: %s', err.message));
      }
  }

  #flushSoon(): void {
    if (this.#flushing) return;
    this.#flushing = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#flush());
  }

  /** Writes the dirty rows; failures are retried at the next tick (the rows stay dirty). */
  async #flush(): Promise<void> {
    try {
      while (this.#dirty.size > 0 && !this.#stopped) {
        const keys: string[] = [];
        for (const k of this.#dirty) {
          keys.push(k);
          if (keys.length === WRITE_BATCH) break;
        }
        for (const k of keys) this.#dirty.delete(k);
        const node = this.#node;
        const rows = keys.map((k) => ({ ...this.#pending.get(k)!, node }));
        for (const k of keys) this.#pending.delete(k);
        const upserts = rows.filter((r) => r.connections > 0);
        const deletes = rows.filter((r) => r.connections === 0);
        try {
          await this.#store.write(node, upserts, deletes);
          // Announced once in the table: whoever hears of a change and reads the table sees it.
          this.#announce(rows);
        } catch (err) {
          debug('presence write failed (retried at the next heartbeat): %s', (err as Error).message);
          for (let i = 0; i < keys.length; i++)
            if (!this.#dirty.has(keys[i]!)) {
              this.#dirty.add(keys[i]!);
              this.#pending.set(keys[i]!, rows[i]!);
            }
          return;
        }
      }
    } finally {
      this.#flushing = undefined;
    }
  }

  /** Resolves once every change made before the call is in the table (or its write failed). */
  async flushed(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  // ---- heartbeat and sweep ----

  /** One heartbeat: keeps this node alive, writes what failed before, sweeps dead nodes. */
  tick(): Promise<void> {
    this.#ticking ??= (async () => {
      try {
        const alive = await this.#store.heartbeat(this.#node, this.#o.ttlMs, false);
        if (!alive && !this.#stopped) await this.#reregister();
        if (this.#dirty.size > 0) this.#flushSoon();
        const swept = await this.#store.sweep();
        this.#announce(swept.map((r) => ({ ...r, connections: 0, version: FINAL })));
        this.#mirror.purge(Math.max(4 * this.#o.ttlMs, TOMBSTONE_MIN_MS));
      } catch (err) {
        debug('presence heartbeat failed (the next one retries): %s', (err as Error).message);
      }
    })().finally(() => (this.#ticking = undefined));
    return this.#ticking;
  }

  /** This node was swept while alive (a stall longer than the TTL): its rows were deleted and
   * their leaves announced. It comes back under a new id, and its members join again. */
  async #reregister(): Promise<void> {
    const old = this.#node;
    debug('node %s was swept while alive: registering again', old);
    this.#node = randomUUID();
    await this.#store.heartbeat(this.#node, this.#o.ttlMs, true);
    for (const [k, m] of this.#local) this.#changed(k, m);
    // A write under the old id that was in flight during the sweep left rows nobody counts.
    await this.flushed();
    const gone = await this.#store.removeNode(old);
    // Announced like a sweep's leaves: the receivers drop every row of the old id (rows the sweep
    // saw and these alike) and ignore its late messages (presence-mirror.ts).
    this.#announce(gone.map((r) => ({ ...r, connections: 0, version: FINAL })));
  }

  // ---- watching ----

  /**
   * Watches the members of `tenant` on subjects matching `pattern`: `live` is called once with the
   * members now, synchronously at the moment from which `fn` gets every change (join, leave,
   * update), until the returned `close`. Snapshot and changes come from the same mirror, so none is
   * missed or repeated between them; whatever `live` sends goes out before any change.
   * `ended` is called if the hub stops while the watch is open, so that its owner ends too (an SSE
   * stream, a `for await` loop) rather than wait for changes that will not come.
   * Rejects STORE_UNAVAILABLE if the table cannot be read, CLOSED if stopped.
   */
  async watch(
    tenant: string,
    pattern: string,
    fn: (change: PresenceChange) => void,
    live: (members: PresenceMember[]) => void,
    ended?: () => void,
  ): Promise<() => void> {
    if (this.#stopped) throw new FeteError('CLOSED', 'fete is stopped');
    const w: Watch = { tenant, pattern, live: false, fn, ended };
    this.#watches.add(w);
    this.#mirror.addWatch(w);
    const region = `${tenant}\n${pattern}`;
    const close = () => {
      if (!this.#watches.delete(w)) return;
      if (w.live) {
        const n = this.#current.get(region)! - 1;
        if (n === 0) this.#current.delete(region);
        else this.#current.set(region, n);
      }
      this.#mirror.removeWatch(w);
    };
    // A live watch of the same region keeps the mirror current for it (messages, and a re-read
    // after any loss): a crowd watching one room costs one read of the table, not one each.
    if (!this.#current.has(region))
      try {
        await this.#load(tenant, pattern);
      } catch (err) {
        close();
        throw FeteError.from(err, 'STORE_UNAVAILABLE');
      }
    if (!this.#watches.has(w)) throw new FeteError('CLOSED', this.#stopped ? 'fete is stopped' : 'the presence watch was closed');
    live(this.#mirror.members(tenant, pattern, matches));
    w.live = true;
    this.#current.set(region, (this.#current.get(region) ?? 0) + 1);
    return close;
  }

  /** The members on `tenant`'s subjects matching `pattern` as this process holds them: current
   * only while a live watch covers (tenant, pattern), as one of its watchers asking does. */
  held(tenant: string, pattern: string): PresenceMember[] {
    return this.#mirror.members(tenant, pattern, matches);
  }

  /** The members now, read from the table (after this node's own changes are written). */
  async members(tenant: string, pattern: string): Promise<PresenceMember[]> {
    await this.flushed();
    const mirror = new PresenceMirror();
    mirror.addWatch({ tenant, pattern, live: false, fn: () => undefined });
    for (const r of await this.#store.read(tenant, pattern)) mirror.apply(r);
    return mirror.members(tenant, pattern, matches);
  }

  async #load(tenant: string, pattern: string): Promise<void> {
    await this.flushed();
    const mark = this.#mirror.mark();
    const rows = await this.#store.read(tenant, pattern);
    this.#mirror.reconcile(tenant, pattern, rows, mark, matches);
  }

  /** Messages may have been missed: every watched region is read again. */
  async #resync(): Promise<void> {
    const regions = new Map<string, { tenant: string; pattern: string }>();
    for (const w of this.#watches) regions.set(`${w.tenant}\n${w.pattern}`, w);
    for (const { tenant, pattern } of regions.values())
      await this.#load(tenant, pattern).catch((err: Error) => debug('presence resync of %s failed: %s', pattern, err.message));
  }

  #received(m: LiveMessage): void {
    const d = m.data;
    if (!isPresenceData(d) || typeof m.tenant !== 'string' || typeof m.subject !== 'string') return;
    for (const x of d.members)
      this.#mirror.apply({ tenant: m.tenant, subject: m.subject, member: x.member, node: d.node, connections: x.c, state: x.s ?? undefined, version: x.v, updatedAt: x.t });
  }

  /**
   * Graceful stop: this node's rows are deleted and their leaves announced. Without it (a crash,
   * `kill -9`), other nodes sweep them once the node's heartbeat is `ttlMs` old.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    await this.flushed();
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#ticking;
    await this.#started?.catch(() => undefined);
    try {
      const gone = await this.#store.removeNode(this.#node);
      this.#announce(gone.map((r) => ({ ...r, connections: 0, version: FINAL })));
    } catch (err) {
      debug('presence rows of node %s not removed (they expire): %s', this.#node, (err as Error).message);
    }
    for (const w of [...this.#watches]) {
      this.#watches.delete(w);
      this.#mirror.removeWatch(w);
      if (!w.live) continue; // still loading: its watch() rejects CLOSED
      try {
        w.ended?.();
      } catch (err) {
        debug('a presence watcher threw when told of the stop: %s', (err as Error).message);
      }
    }
    for (const u of this.#unsubscribe) u();
  }

}
