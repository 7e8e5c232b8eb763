// This process's view of presence for the subjects its watchers cover: every node's row of each
// member, kept from the live channel's messages and from reads of the table, and the watches fed
// by it. Rows are facts of one node ("node N has c connections of member M on S, version v"), so
// applying them is idempotent and order-tolerant: a row replaces another only with a higher
// version, and a removal stays as a tombstone (connections 0) so that an older message or read
// cannot bring it back. A member is the sum of its nodes' rows; its state is the newest one set.
// A row at FINAL_VERSION says its node is gone for good (swept, stopped, or re-registered under a
// new id): every row held of that node goes, and whatever that node's messages say later is
// ignored. Per-row tombstones could not promise that: a node swept while alive (a stall longer
// than the TTL) goes on writing and announcing under its old id until its next heartbeat, rows the
// sweep never saw, and a late message of it could outlive the tombstone purge; either left a
// member counted forever after everyone had left (test/presence/presence-postgres.test.ts, "a crowd").

import createDebug from 'debug';
import { PatternIndex, isLiteralPattern, matches, type PresenceChange, type PresenceMember, type PresenceState } from '../../shared/index.js';
import type { PresenceRow } from './presence-store.js';

const debug = createDebug('fete:presence');

/** Version of a row removed with its node (by a sweep, a stop, or a re-registration): the node
 * is gone, and no later write of it counts. */
export const FINAL_VERSION = Number.MAX_SAFE_INTEGER;
/** How long a gone node is remembered (ms): longer than any message of it can be on its way. */
const GONE_NODE_MEMORY_MS = 10 * 60_000;

interface NodeRow {
  connections: number;
  state: string | undefined;
  version: number;
  updatedAt: number;
  /** Order in which this process last changed the row (`Mirror.#tick`), to tell what a read missed. */
  seen: number;
  /** When a tombstone was made (ms), for the purge. */
  removedAt: number;
}

interface Entry {
  tenant: string;
  subject: string;
  member: string;
  nodes: Map<string, NodeRow>;
}

/** One watcher of (tenant, pattern): not fed changes until its snapshot was taken (`live`). */
export interface Watch {
  readonly tenant: string;
  readonly pattern: string;
  live: boolean;
  readonly fn: (change: PresenceChange) => void;
  /** Called if the hub stops while the watch is open (no change comes after it). */
  readonly ended?: () => void;
}

/** A tenant's held rows: by subject, then by member. */
type TenantRows = Map<string, Map<string, Entry>>;

function parseState(text: string | undefined): PresenceState | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as PresenceState;
  } catch {
    return undefined;
  }
}

/** The member made of an entry's rows, or undefined when no node has a connection. */
function aggregate(e: Entry): PresenceMember | undefined {
  let connections = 0;
  let newest: NodeRow | undefined;
  for (const r of e.nodes.values()) {
    if (r.connections <= 0) continue;
    connections += r.connections;
    if (r.state !== undefined && (newest === undefined || r.updatedAt > newest.updatedAt)) newest = r;
  }
  if (connections === 0) return undefined;
  return { subject: e.subject, id: e.member, connections, state: parseState(newest?.state) };
}

function same(a: PresenceMember, b: PresenceMember): boolean {
  return a.connections === b.connections && JSON.stringify(a.state) === JSON.stringify(b.state);
}

export class PresenceMirror {
  /** Held rows by tenant, subject and member: a watch or an unwatch of one room looks at that
   * room's rows only, not at every row held (test/presence/presence-watch-cost.test.ts). */
  readonly #entries = new Map<string, TenantRows>();
  /** Watches by tenant, indexed by pattern: which subjects this process keeps rows for. */
  readonly #watches = new Map<string, PatternIndex<Watch>>();
  #tick = 0;
  /** Nodes known to be gone (a FINAL_VERSION row was seen), with when (ms), for the purge. */
  readonly #gone = new Map<string, number>();

  /** A counter that orders changes against reads: rows changed after `mark()` were not in a read started then. */
  mark(): number {
    return ++this.#tick;
  }

  covers(tenant: string, subject: string): boolean {
    return (this.#watches.get(tenant)?.match(subject).length ?? 0) > 0;
  }

  addWatch(w: Watch): void {
    let index = this.#watches.get(w.tenant);
    if (!index) this.#watches.set(w.tenant, (index = new PatternIndex<Watch>()));
    index.add(w.pattern, w);
  }

  removeWatch(w: Watch): void {
    const index = this.#watches.get(w.tenant);
    if (!index) return;
    index.remove(w.pattern, w);
    // Rows nobody watches any more are dropped: a later watch reads them from the table again.
    // Only the subjects of the ended watch's pattern can have lost their last watch.
    const rows = this.#entries.get(w.tenant);
    if (rows) {
      for (const [subject] of this.#subjects(rows, w.pattern, matches)) if (!this.covers(w.tenant, subject)) rows.delete(subject);
      if (rows.size === 0) this.#entries.delete(w.tenant);
    }
    if (index.size === 0) this.#watches.delete(w.tenant);
  }

  /** A tenant's held subjects matching `pattern`: one lookup for a subject, a walk for a wildcard. */
  *#subjects(rows: TenantRows, pattern: string, match: (pattern: string, subject: string) => boolean): Iterable<[string, Map<string, Entry>]> {
    if (isLiteralPattern(pattern)) {
      const members = rows.get(pattern);
      if (members) yield [pattern, members];
      return;
    }
    for (const [subject, members] of rows) if (match(pattern, subject)) yield [subject, members];
  }

  /** Current members of `tenant` on subjects matching `pattern` (from the rows held). */
  members(tenant: string, pattern: string, matches: (pattern: string, subject: string) => boolean): PresenceMember[] {
    const out: PresenceMember[] = [];
    const rows = this.#entries.get(tenant);
    if (rows)
      for (const [, members] of this.#subjects(rows, pattern, matches))
        for (const e of members.values()) {
          const m = aggregate(e);
          if (m) out.push(m);
        }
    return out.sort((a, b) => (a.subject === b.subject ? (a.id < b.id ? -1 : 1) : a.subject < b.subject ? -1 : 1));
  }

  /** Applies one node's row (connections 0: removed), if newer than what is held; tells the live
   * watches of the member's change. Rows of subjects nobody here watches are ignored. */
  apply(row: PresenceRow): void {
    if (row.version === FINAL_VERSION) this.#nodeGone(row.node);
    else if (this.#gone.has(row.node)) return; // a late message of a gone node
    if (!this.covers(row.tenant, row.subject)) return;
    let rows = this.#entries.get(row.tenant);
    if (!rows) this.#entries.set(row.tenant, (rows = new Map()));
    let members = rows.get(row.subject);
    if (!members) rows.set(row.subject, (members = new Map()));
    let e = members.get(row.member);
    if (!e) members.set(row.member, (e = { tenant: row.tenant, subject: row.subject, member: row.member, nodes: new Map() }));
    const held = e.nodes.get(row.node);
    if (held && held.version >= row.version) return;
    const before = aggregate(e);
    e.nodes.set(row.node, {
      connections: row.connections,
      state: row.state,
      version: row.version,
      updatedAt: row.updatedAt,
      seen: this.mark(),
      removedAt: row.connections > 0 ? 0 : Date.now(),
    });
    this.#changed(e, before);
  }

  /**
   * Takes a read of the table for (tenant, pattern) as the truth for that region: rows it holds are
   * applied (newer versions win), and rows held here that it lacks are removed unless they changed
   * after `mark` (the read started before those changes: a message was faster than the table).
   */
  reconcile(tenant: string, pattern: string, rows: readonly PresenceRow[], mark: number, matches: (pattern: string, subject: string) => boolean): void {
    // Keyed as JSON arrays: tenants and public ids may hold any character.
    const keyOf = (subject: string, member: string, node: string) => JSON.stringify([subject, member, node]);
    const inRead = new Set<string>();
    for (const r of rows) {
      if (r.tenant === tenant) inRead.add(keyOf(r.subject, r.member, r.node));
      this.apply(r);
    }
    const held = this.#entries.get(tenant);
    if (!held) return;
    for (const [, members] of this.#subjects(held, pattern, matches))
      for (const e of members.values()) {
        const before = aggregate(e);
        let touched = false;
        for (const [node, r] of e.nodes) {
          if (r.connections <= 0 || r.seen > mark || inRead.has(keyOf(e.subject, e.member, node))) continue;
          // Gone from the table (its node expired or left while a message was lost): a tombstone at
          // this version, so a late message of the same version does not bring it back.
          e.nodes.set(node, { ...r, connections: 0, seen: this.mark(), removedAt: Date.now() });
          touched = true;
        }
        if (touched) this.#changed(e, before);
      }
  }

  /** Node `node` is gone: the rows held of it are removed (with the leaves and updates that makes),
   * once; its later messages are ignored. */
  #nodeGone(node: string): void {
    if (this.#gone.has(node)) return;
    this.#gone.set(node, Date.now());
    for (const rows of this.#entries.values())
      for (const members of rows.values())
        for (const e of members.values()) {
          const r = e.nodes.get(node);
          if (!r || r.connections <= 0) continue;
          const before = aggregate(e);
          e.nodes.set(node, { ...r, connections: 0, version: FINAL_VERSION, seen: this.mark(), removedAt: Date.now() });
          this.#changed(e, before);
        }
  }

  /** Forgets tombstones older than `olderThanMs` (no message that old is still on its way), and
   * gone nodes after GONE_NODE_MEMORY_MS. */
  purge(olderThanMs: number): void {
    const now = Date.now();
    for (const [node, at] of this.#gone) if (at < now - GONE_NODE_MEMORY_MS) this.#gone.delete(node);
    const limit = now - olderThanMs;
    for (const [tenant, rows] of this.#entries) {
      for (const [subject, members] of rows) {
        for (const [member, e] of members) {
          for (const [node, r] of e.nodes) if (r.connections <= 0 && r.removedAt < limit) e.nodes.delete(node);
          if (e.nodes.size === 0) members.delete(member);
        }
        if (members.size === 0) rows.delete(subject);
      }
      if (rows.size === 0) this.#entries.delete(tenant);
    }
  }

  #changed(e: Entry, before: PresenceMember | undefined): void {
    const after = aggregate(e);
    let change: PresenceChange | undefined;
    if (!before && after) change = { type: 'join', member: after };
    else if (before && !after) change = { type: 'leave', member: { ...before, connections: 0 } };
    else if (before && after && !same(before, after)) change = { type: 'update', member: after };
    if (!change) return;
    for (const w of this.#watches.get(e.tenant)?.match(e.subject) ?? []) {
      if (!w.live) continue;
      try {
        w.fn(change);
      } catch (err) {
        debug('a presence watcher threw: %s', (err as Error).message);
      }
    }
  }
}
