// The ring buffer under each bus subscription: FIFO across wrap-around and growth, capacity, clear.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BoundedQueue } from '../../shared/bounded-queue.js';

describe('BoundedQueue', () => {
  it('is full at its capacity and empty after shifting everything', () => {
    const q = new BoundedQueue<number>(3);
    expect(q.shift()).toBeUndefined();
    for (const n of [1, 2, 3]) q.push(n);
    expect([q.length, q.isFull]).toEqual([3, true]);
    expect([q.shift(), q.shift(), q.shift(), q.shift()]).toEqual([1, 2, 3, undefined]);
    expect([q.length, q.isFull]).toEqual([0, false]);
  });

  it('an Infinity capacity is never full', () => {
    const q = new BoundedQueue<number>(Infinity);
    for (let i = 0; i < 10_000; i++) q.push(i);
    expect([q.length, q.isFull, q.shift()]).toEqual([10_000, false, 0]);
  });

  it('clear returns the items oldest first and leaves it empty and usable', () => {
    const q = new BoundedQueue<number>(100);
    for (let i = 0; i < 20; i++) q.push(i);
    for (let i = 0; i < 5; i++) q.shift();
    expect(q.clear()).toEqual([...Array(15).keys()].map((i) => i + 5));
    expect(q.length).toBe(0);
    q.push(7);
    expect(q.shift()).toBe(7);
  });

  it('behaves like an array used as a FIFO under any sequence of pushes and shifts', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.array(fc.boolean(), { maxLength: 300, size: 'max' }), (cap, ops) => {
        const q = new BoundedQueue<number>(cap);
        const model: number[] = [];
        let next = 0;
        for (const push of ops) {
          if (push && !q.isFull) {
            q.push(next);
            model.push(next++);
          } else expect(q.shift()).toBe(model.shift());
          expect(q.length).toBe(model.length);
          expect(q.isFull).toBe(model.length >= cap);
        }
        expect(q.clear()).toEqual(model);
      }),
    );
  });
});
