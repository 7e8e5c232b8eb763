// Latest values held for a slow reader (server/fanout/held-latest.ts): the newest per subject, and a
// removal (clear or expiry) forgets a held older value, which sent after the removal would bring
// the value back to a reader that never had it.
import { describe, expect, it } from 'vitest';
import { HeldLatest } from '../../server/fanout/held-latest.js';
import type { LiveEvent } from '../../server/live/live-hub.js';

const ev = (subject: string, version: number) => ({ envelope: { subject, version } }) as unknown as LiveEvent;
const versions = (h: HeldLatest) => h.take().map((e) => [e.envelope.subject, e.envelope.version]);

describe('latest values held for a slow reader', () => {
  it('keeps the newest version of each subject, subjects in the order first held', () => {
    const h = new HeldLatest();
    h.hold(ev('a', 1));
    h.hold(ev('b', 1));
    h.hold(ev('a', 3));
    h.hold(ev('a', 2)); // older than the one held: ignored
    expect(versions(h)).toEqual([
      ['a', 3],
      ['b', 1],
    ]);
    expect(h.size).toBe(0);
  });

  it('forgets a held value older than a removal of its subject, and keeps a newer one', () => {
    const h = new HeldLatest();
    h.hold(ev('a', 3));
    h.hold(ev('b', 5));
    h.drop('a', 4); // cleared at version 4: the held 3 must not be sent after the removal
    h.drop('b', 4); // a value set after the removal stays
    expect(versions(h)).toEqual([['b', 5]]);
  });
});
