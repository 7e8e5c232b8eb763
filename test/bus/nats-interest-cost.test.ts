// With the NATS bus, every `sub` and `unsub` of a socket changes its web node's interest
// (server/bus/nats-interest.ts): the union of its sockets' patterns as the fewest NATS
// subscriptions. Its cost must not grow with the number of patterns held: a browser may hold 256
// subscriptions per socket, so a few sockets of one signed-in user make thousands of distinct
// patterns, and every further sub, or one sub and unsub of `>` (which covers and then hands back
// every pattern of its tenant), would block the node's event loop.
//
// Measured (Interest driven directly, tsx on this 2-core machine): 4,000 distinct patterns took
// 16 million pattern comparisons and 14.6 s to add; after them, one sub and unsub of `>` took 16
// million comparisons and 17.7 s, during which the node served nobody.
//
// The test counts comparisons (the `covers` callback), not time. it.fails: the fix belongs in
// server/bus/nats-interest.ts (owned by the NATS work): `#activate` scans every active pattern
// twice, and `remove` calls `#activate` for every counted pattern the removed one covered; keep
// the active and counted patterns in token tries (as shared/pattern-index.ts does) so that "is
// it covered by an active pattern" and "which does it cover" walk only the matching branches.
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
  it.fails('costs a bounded number of pattern comparisons per sub and unsub, however many patterns its sockets hold', () => {
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
});
