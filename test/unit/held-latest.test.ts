// Latest values and removals held for a slow reader (server/fanout/held-latest.ts): the newest per
// subject, a removal at a newer version standing for every older value (sent after the removal, a
// held older value would bring the value back to a reader that never had it), and a value set
// after a removal replacing it.
import { describe, expect, it } from 'vitest';
import { HeldLatest, type HeldEntry } from '../../server/fanout/held-latest.js';
import type { LiveEvent } from '../../server/live/live-hub.js';
import type { LatestCleared } from '../../shared/index.js';

const ev = (subject: string, version: number) => ({ envelope: { subject, version } }) as unknown as LiveEvent;
const removal = (subject: string, version: number): LatestCleared => ({ topic: 't', subject, version, reason: 'cleared' });
const show = (entries: HeldEntry[]) =>
  entries.map((e) => ('value' in e ? ['value', e.value.envelope.subject, e.value.envelope.version] : 'removal' in e ? ['removal', e.removal.subject, e.removal.version] : ['restated']));

describe('latest values held for a slow reader', () => {
  it('keeps the newest version of each subject, subjects in the order first held', () => {
    const h = new HeldLatest();
    h.hold(ev('a', 1));
    h.hold(ev('b', 1));
    h.hold(ev('a', 3));
    h.hold(ev('a', 2)); // older than the one held: ignored
    expect(show(h.take())).toEqual([
      ['value', 'a', 3],
      ['value', 'b', 1],
    ]);
    expect(h.size).toBe(0);
  });

  it('a removal replaces an older held value, a newer value replaces a removal, and many removals are one', () => {
    const h = new HeldLatest();
    h.hold(ev('a', 3));
    h.holdRemoval(removal('a', 4)); // the held 3 must not be sent after the removal
    h.hold(ev('b', 5));
    h.holdRemoval(removal('b', 4)); // older than the value held: ignored
    h.holdRemoval(removal('c', 2));
    h.hold(ev('c', 3)); // set again after the removal
    for (let v = 5; v < 100; v++) h.holdRemoval(removal('a', v)); // a stalled reader: one entry
    expect(show(h.take())).toEqual([
      ['removal', 'a', 99],
      ['value', 'b', 5],
      ['value', 'c', 3],
    ]);
  });

  it('the end of a complete snapshot held for a slow reader goes after every value and removal held', () => {
    const h = new HeldLatest();
    h.hold(ev('a', 1));
    h.holdRestated();
    h.holdRemoval(removal('b', 2));
    h.hold(ev('a', 2));
    expect(show(h.take())).toEqual([['value', 'a', 2], ['removal', 'b', 2], ['restated']]);
    expect(h.take()).toEqual([]);
  });
});
