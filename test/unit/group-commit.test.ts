// GroupCommit (server/log/group-commit.ts) on its own, with an append that records its calls: what
// goes together, in which order, and how a failed group is answered. The store suite runs the same
// behaviour on PGlite and PostgreSQL (test/store/suite/group-commit.ts).
import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../server/log/group-commit.js';

class ContentError extends Error {}

function harness(fail: (items: readonly string[]) => Error | undefined) {
  const calls: string[][] = [];
  const log: string[] = [];
  let seq = 0;
  const g = new GroupCommit<string, number, undefined>({
    append: async (items) => {
      calls.push([...items]);
      log.push(`append ${items.join(',')}`);
      await new Promise((r) => setTimeout(r, 5));
      const err = fail(items);
      if (err) throw err;
      return { results: items.map(() => ++seq), extra: undefined };
    },
    after: (items) => void log.push(`after ${items.join(',')}`),
    sizeOf: (item) => (item.startsWith('big') ? 3 : 1),
    maxGroupSize: 4,
    mayBeOneItems: (err) => err instanceof ContentError,
  });
  return { g, calls, log };
}

describe('group commit', () => {
  it('the first request goes at once; those made while it is in flight go together, results in submission order', async () => {
    const { g, calls } = harness(() => undefined);
    const results = await Promise.all(['a', 'b', 'c', 'd'].map((x) => g.submit(x)));
    expect(calls).toEqual([['a'], ['b', 'c', 'd']]);
    expect(results).toEqual([1, 2, 3, 4]);
  });

  it('a group holds at most maxGroupSize, and a larger request goes alone', async () => {
    const { g, calls } = harness(() => undefined);
    await Promise.all(['a', 'b', 'c', 'd', 'e', 'f', 'big1', 'g'].map((x) => g.submit(x)));
    expect(calls).toEqual([['a'], ['b', 'c', 'd', 'e'], ['f', 'big1'], ['g']]);
  });

  it("the next group's append is sent before the previous group's after runs", async () => {
    const { g, log } = harness(() => undefined);
    const first = g.submit('a');
    await new Promise((r) => setTimeout(r, 1));
    const second = g.submit('b');
    await Promise.all([first, second]);
    expect(log).toEqual(['append a', 'append b', 'after a', 'after b']);
  });

  it('a group refused for one request’s content is appended again one by one: only that request fails', async () => {
    const { g, calls } = harness((items) => (items.includes('bad') ? new ContentError('bad row') : undefined));
    const settled = await Promise.allSettled(['a', 'b', 'bad', 'c'].map((x) => g.submit(x)));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(calls).toEqual([['a'], ['b', 'bad', 'c'], ['b'], ['bad'], ['c']]);
  });

  it('a group that failed for the store (unreachable) fails every request at once, with the same error', async () => {
    const down = new Error('connect ECONNREFUSED');
    const { g, calls } = harness((items) => (items.length > 1 ? down : undefined));
    const settled = await Promise.allSettled(['a', 'b', 'c', 'd'].map((x) => g.submit(x)));
    expect(settled.map((s) => (s.status === 'rejected' ? s.reason : 'ok'))).toEqual(['ok', down, down, down]);
    expect(calls).toEqual([['a'], ['b', 'c', 'd']]);
    // And the writer goes on with what comes next.
    await expect(g.submit('e')).resolves.toBeTypeOf('number');
  });
});
