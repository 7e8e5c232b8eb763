// This process's view of presence for the subjects its watchers cover: every node's row of each
// member, kept from the live channel's messages and from reads of the table, and the watches fed
// by it. Rows are facts of one node ("node N has c connections of member M on S, version v"), so
// applying them is idempotent and order-tolerant: a row replaces another only with a higher
// version, and a removal stays as a tombstone (connections 0) so that an older message or read
// cannot bring it back. A member is the sum of its nodes' rows; its state is the newest one set.
import createDebug from 'debug';
import { PatternIndex, type PresenceChange, type PresenceMember, type PresenceState } from '../../shared/index.js';
import type { PresenceRow } from './presence-store.js';

const debug = createDebug('fete:presence');

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
}

const keyOf = (tenant: string, subject: string, member: string) => `${tenant}\n${subject}\n${member}`;

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
  readonly #entries = new Map<string, Entry>();
  /** Watches by tenant, indexed by pattern: which subjects this process keeps rows for. */
  readonly #watches = new Map<string, PatternIndex<Watch>>();
  #tick = 0;

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
    for (const [k, e] of this.#entries) if (e.tenant === w.tenant && !this.covers(e.tenant, e.subject)) this.#entries.delete(k);
  }

  /** Current members of `tenant` on subjects matching `pattern` (from the rows held). */
  members(tenant: string, pattern: string, matches: (pattern: string, subject: string) => boolean): PresenceMember[] {
    const out: PresenceMember[] = [];
    for (const e of this.#entries.values()) {
      if (e.tenant !== tenant || !matches(pattern, e.subject)) continue;
      const m = aggregate(e);
      if (m) out.push(m);
    }
    return out.sort((a, b) => (a.subject === b.subject ? (a.id < b.id ? -1 : 1) : a.subject < b.subject ? -1 : 1));
  }

  /** Applies one node's row (connections 0: removed), if newer than what is held; tells the live
   * watches of the member's change. Rows of subjects nobody here watches are ignored. */
  apply(row: PresenceRow): void {
    if (!this.covers(row.tenant, row.subject)) return;
    const k = keyOf(row.tenant, row.subject, row.member);
    let e = this.#entries.get(k);
    if (!e) this.#entries.set(k, (e = { tenant: row.tenant, subject: row.subject, member: row.member, nodes: new Map() }));
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
    const inRead = new Set<string>();
    for (const r of rows) {
      inRead.add(`${keyOf(r.tenant, r.subject, r.member)}\n${r.node}`);
      this.apply(r);
    }
    for (const [k, e] of this.#entries) {
      if (e.tenant !== tenant || !matches(pattern, e.subject)) continue;
      const before = aggregate(e);
      let touched = false;
      for (const [node, r] of e.nodes) {
        if (r.connections <= 0 || r.seen > mark || inRead.has(`${k}\n${node}`)) continue;
        // Gone from the table (its node expired or left while a message was lost): a tombstone at
        // this version, so a late message of the same version does not bring it back.
        e.nodes.set(node, { ...r, connections: 0, seen: this.mark(), removedAt: Date.now() });
        touched = true;
      }
      if (touched) this.#changed(e, before);
    }
  }

  /** Forgets tombstones older than `olderThanMs` (no message that old is still on its way). */
  purge(olderThanMs: number): void {
    const limit = Date.now() - olderThanMs;
    for (const [k, e] of this.#entries) {
      for (const [node, r] of e.nodes) if (r.connections <= 0 && r.removedAt < limit) e.nodes.delete(node);
      if (e.nodes.size === 0) this.#entries.delete(k);
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
