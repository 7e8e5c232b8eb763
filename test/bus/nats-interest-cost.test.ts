// With the NATS bus, every `sub` and `unsub` of a socket changes its web node's interest
// (server/bus/nats-interest.ts): the union of its sockets' patterns as the fewest NATS
// subscriptions. Its cost must not grow with the number of patterns held: a browser may hold 256
// subscriptions per socket, so a few sockets of one signed-in user make thousands of distinct
// patterns, and every further sub, or one sub and unsub of `>` (which covers and then hands back
// every pattern of its tenant), would block the node's event loop.
//
// Measured (Interest driven directly, tsx on this 2-core machine): 4,000 distinct patterns took
// 16 million pattern comparisons and 14.6 s to add; after them, one sub and unsub of `>` took 16
// million comparisons and 17.7 s, during which the node served nobody. With the tries, driven the
// same way: 4,000 adds took 33 ms and no comparison, the sub and unsub of `>` 26 ms and 8,000
// comparisons (the scan, rerun beside them in the same process: 7.2 s and 7.4 s).
//
// The tests count comparisons (the `covers` callback, which confirms every candidate the interest's
// token tries find), not time. The tries (server/bus/pattern-trie.ts) walk only the branches that
// can cover, or be covered by, the pattern changed, so a change compares it with the patterns it
// touches and no others. (The scan before them compared every change with every active pattern,
// and a remove once more per pattern it handed back: the first test failed with it.) Comparisons
// do not count the trie nodes a walk passes through; those lie on the same branches: at most a
// literal and a `*` child per token looking for what covers a pattern, and looking for what it
// covers, one child per literal token, every child under a `*`, the whole subtree under a `>`.
import { describe, expect, it } from 'vitest';
import { Interest } from '../../server/bus/nats-interest.js';
import { interest, patternCovers } from '../../server/bus/nats-subjects.js';

const PATTERNS = 2000;
/** Comparisons allowed per change of the interest, whatever the number of patterns held. */
const PER_CHANGE = 64;

function counted() {
  let comparisons = 0;
  const subscribed = new Set<string>();
  const i = new Interest(
    { subscribe: (p) => void subscribed.add(p), unsubscribe: (p) => void subscribed.delete(p) },
    (a, b) => {
      comparisons++;
      return patternCovers(a, b);
    },
  );
  return {
    interest: i,
    subscribed,
    take(): number {
      const n = comparisons;
      comparisons = 0;
      return n;
    },
  };
}

describe("a web node's NATS interest", () => {
  it('costs a bounded number of pattern comparisons per sub and unsub, however many patterns its sockets hold', () => {
    const c = counted();
    for (let k = 0; k < PATTERNS; k++) c.interest.add(interest('acme', `orders.o${k}.status`));
    expect(c.subscribed.size).toBe(PATTERNS);
    expect(c.take()).toBeLessThan(PATTERNS * PER_CHANGE);

    // One socket subscribes to everything of its tenant, then leaves: every pattern is handed back.
    c.interest.add(interest('acme', '>'));
    expect([...c.subscribed]).toEqual([interest('acme', '>')]);
    c.interest.remove(interest('acme', '>'));
    expect(c.subscribed.size).toBe(PATTERNS);
    expect(c.take()).toBeLessThan(PATTERNS * PER_CHANGE);
  });

  it('a sub or unsub compares only with the patterns it covers or is covered by, not with every pattern held', () => {
    // 8 sockets of one user, 256 subscriptions each: per order its status and everything under it.
    const c = counted();
    const orders = 1024;
    for (let k = 0; k < orders; k++) {
      c.interest.add(interest('acme', `orders.o${k}.status`));
      c.interest.add(interest('acme', `orders.o${k}.>`));
    }
    expect(c.subscribed.size).toBe(orders);
    c.take();

    const changes: Array<[string, () => void, string[]]> = [
      // Covered by one active pattern: one comparison, no NATS change.
      ['sub orders.o5.*', () => c.interest.add(interest('acme', 'orders.o5.*')), []],
      ['unsub orders.o5.*', () => c.interest.remove(interest('acme', 'orders.o5.*')), []],
      // Unrelated (another topic, another tenant): nothing to compare with.
      ['sub chats.r1', () => c.interest.add(interest('acme', 'chats.r1')), [interest('acme', 'chats.r1')]],
      ['unsub chats.r1', () => c.interest.remove(interest('acme', 'chats.r1')), []],
      ['sub globex orders.>', () => c.interest.add(interest('globex', 'orders.>')), [interest('globex', 'orders.>')]],
      ['unsub globex orders.>', () => c.interest.remove(interest('globex', 'orders.>')), []],
      // An active pattern goes and comes back: it hands back, then takes again, the one it covers.
      ['unsub orders.o9.>', () => c.interest.remove(interest('acme', 'orders.o9.>')), [interest('acme', 'orders.o9.status')]],
      ['sub orders.o9.>', () => c.interest.add(interest('acme', 'orders.o9.>')), [interest('acme', 'orders.o9.>')]],
    ];
    for (let round = 0; round < 10; round++)
      for (const [what, change, added] of changes) {
        const before = new Set(c.subscribed);
        change();
        expect([...c.subscribed].filter((p) => !before.has(p)), what).toEqual(added);
        expect(c.take(), what).toBeLessThanOrEqual(2);
      }
    expect(c.subscribed.size).toBe(orders);
  });
});
