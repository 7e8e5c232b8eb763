// Retry delays: exponential growth, the cap, and jitter bounds with an injected random source.
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../server/index.js';

describe('backoffDelay', () => {
  it('doubles from initialMs per failed attempt up to maxMs when no jitter is taken', () => {
    const b = { initialMs: 1000, factor: 2, maxMs: 10_000, jitter: 0.5 };
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, b, () => 0))).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
  });

  it('jitter takes at most its fraction off the delay', () => {
    const b = { initialMs: 1000, factor: 3, jitter: 0.25 };
    expect(backoffDelay(2, b, () => 0.999_999)).toBe(2250);
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(3, b);
      expect(d).toBeGreaterThanOrEqual(6750);
      expect(d).toBeLessThanOrEqual(9000);
    }
  });

  it('defaults to 1 s doubling with half jitter, and accepts a function', () => {
    expect(backoffDelay(1, {}, () => 0)).toBe(1000);
    expect(backoffDelay(1, {}, () => 0.5)).toBe(750);
    expect(backoffDelay(4, (n) => n * 10)).toBe(40);
  });
});
