// Watching one room (`client.presence('rooms.r1.chat')`, a `pwatch` packet) and ending the watch
// must cost the same however many members other rooms have: the mirror of a process holds the
// rows of every watched region, of every tenant, and walking all of them per watch and per unwatch
// let one user stall a node. Measured end to end (one fete, PGlite in memory): one user's 40
// sockets made 10,000 members (250 rooms each) and watched them; then 20 of its sockets doing 30
// watch+unwatch each (within the per-socket rate) took 16 s, with the event loop blocked 14.8 s.
//
// The test counts pattern matches, not time: the `matches` callback and the mirror's pattern
// index lookups, for one watch and unwatch of one room while 5,000 other rooms are held.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PresenceMirror, type Watch } from '../../server/presence/presence-mirror.js';
import { PatternIndex, matches } from '../../shared/index.js';

const ROOMS = 5000;
/** Pattern matches allowed for one watch or unwatch of one room. */
const BOUND = 100;

afterEach(() => vi.restoreAllMocks());

function watch(tenant: string, pattern: string): Watch {
  return { tenant, pattern, live: true, fn: () => undefined };
}

describe('presence watches', () => {
  it("watching and unwatching one room costs the same however many members other rooms have", () => {
    const mirror = new PresenceMirror();
    // Someone watches every room of tenant t: the mirror holds all their rows.
    mirror.addWatch(watch('t', 'rooms.*.chat'));
    for (let i = 0; i < ROOMS; i++)
      mirror.apply({ tenant: 't', subject: `rooms.r${i}.chat`, member: `m${i}`, node: 'n1', connections: 1, state: undefined, version: i + 1, updatedAt: 1 });
    // And another tenant's rooms are held too.
    mirror.addWatch(watch('u', '>'));
    for (let i = 0; i < ROOMS; i++)
      mirror.apply({ tenant: 'u', subject: `rooms.r${i}.chat`, member: `m${i}`, node: 'n1', connections: 1, state: undefined, version: i + 1, updatedAt: 1 });

    const indexMatch = vi.spyOn(PatternIndex.prototype, 'match');
    let matchCalls = 0;
    const counting = (p: string, s: string) => {
      matchCalls++;
      return matches(p, s);
    };
    const one = watch('t', 'rooms.r7.chat');
    mirror.addWatch(one);
    expect(mirror.members('t', 'rooms.r7.chat', counting)).toEqual([{ subject: 'rooms.r7.chat', id: 'm7', connections: 1, state: undefined }]);
    mirror.removeWatch(one);
    expect(matchCalls + indexMatch.mock.calls.length).toBeLessThan(BOUND);

    // Rows still watched stay; rows nobody watches any more go.
    expect(mirror.members('t', 'rooms.*.chat', matches)).toHaveLength(ROOMS);
    const solo = watch('v', 'rooms.x.chat');
    mirror.addWatch(solo);
    mirror.apply({ tenant: 'v', subject: 'rooms.x.chat', member: 'a', node: 'n1', connections: 1, state: undefined, version: 1, updatedAt: 1 });
    expect(mirror.members('v', 'rooms.x.chat', matches)).toHaveLength(1);
    mirror.removeWatch(solo);
    mirror.addWatch(solo);
    expect(mirror.members('v', 'rooms.x.chat', matches)).toEqual([]);
  });
});
