// A process's mirror of presence rows (server/presence/presence-mirror.ts) when a node is gone for
// good (swept while it was stalled, stopped, or re-registered under a new id): the messages that
// node sent before it knew, arriving in any order and at any time, must not leave a member counted.
import { describe, expect, test } from 'vitest';
import { FINAL_VERSION, PresenceMirror } from '../../server/presence/presence-mirror.js';
import type { PresenceRow } from '../../server/presence/presence-store.js';
import { matches, type PresenceChange } from '../../shared/index.js';

const row = (member: string, node: string, connections: number, version: number): PresenceRow => ({
  tenant: 't',
  subject: 'rooms.r1.chat',
  member,
  node,
  connections,
  state: undefined,
  version,
  updatedAt: 1,
});

function watched() {
  const mirror = new PresenceMirror();
  const changes: string[] = [];
  mirror.addWatch({ tenant: 't', pattern: 'rooms.>', live: true, fn: (c: PresenceChange) => changes.push(`${c.type} ${c.member.id} x${c.member.connections}`) });
  return { mirror, changes, ids: () => mirror.members('t', 'rooms.>', matches).map((m) => `${m.id} x${m.connections}`) };
}

describe('the presence mirror, when a node is gone for good', () => {
  test("a node's removal drops every row held of it, also rows its removal did not list", () => {
    const { mirror, changes, ids } = watched();
    mirror.apply(row('alice', 'old', 1, 1));
    // Written under the old id after the sweep read the table: the sweep never announced it.
    mirror.apply(row('carol', 'old', 1, 2));
    mirror.apply(row('carol', 'new', 1, 3));
    expect(ids()).toEqual(['carol x2', 'alice x1'].sort());
    mirror.apply(row('alice', 'old', 0, FINAL_VERSION));
    expect(ids()).toEqual(['carol x1']);
    mirror.apply(row('carol', 'new', 0, 4));
    expect(ids()).toEqual([]);
    expect(changes).toEqual(['join alice x1', 'join carol x1', 'update carol x2', 'leave alice x0', 'update carol x1', 'leave carol x0']);
  });

  test("a gone node's late message does not bring its member back, even once the tombstones are purged", () => {
    const { mirror, changes, ids } = watched();
    mirror.apply(row('alice', 'old', 1, 1));
    mirror.apply(row('alice', 'old', 0, FINAL_VERSION));
    mirror.purge(-1); // every tombstone, however new
    // The node's own message of a change it made before it learnt it was swept, late.
    mirror.apply(row('alice', 'old', 2, 2));
    mirror.apply(row('bob', 'old', 1, 3));
    expect(ids()).toEqual([]);
    expect(changes).toEqual(['join alice x1', 'leave alice x0']);
  });

  test("a removal arriving before the gone node's other messages still wins", () => {
    const { mirror, changes, ids } = watched();
    mirror.apply(row('alice', 'old', 0, FINAL_VERSION));
    mirror.apply(row('alice', 'old', 1, 1));
    mirror.apply(row('carol', 'old', 1, 2));
    expect(ids()).toEqual([]);
    expect(changes).toEqual([]);
  });
});
