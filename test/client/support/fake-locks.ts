// A test double of the Web Locks API (`navigator.locks`), exclusive mode only: what leader election
// uses. A lock passes straight to the next waiter when its callback settles; a waiting request
// whose signal aborts rejects with an AbortError DOMException, as in browsers.
import type { LockManagerLike } from '../../../client/leader.js';

export function createFakeLocks(): LockManagerLike {
  const held = new Set<string>();
  const waiting = new Map<string, (() => void)[]>();

  async function request(name: string, optionsOrCallback: unknown, maybeCallback?: unknown): Promise<unknown> {
    const callback = (typeof optionsOrCallback === 'function' ? optionsOrCallback : maybeCallback) as (lock: Lock) => unknown;
    const signal = typeof optionsOrCallback === 'object' ? (optionsOrCallback as LockOptions).signal : undefined;
    if (signal?.aborted) throw new DOMException('The request was aborted.', 'AbortError');
    if (held.has(name)) {
      // Ownership is handed over by the releasing holder: `held` stays set.
      await new Promise<void>((resolve, reject) => {
        const queue = waiting.get(name) ?? [];
        waiting.set(name, queue);
        const grant = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          queue.splice(queue.indexOf(grant), 1);
          reject(new DOMException('The request was aborted.', 'AbortError'));
        };
        queue.push(grant);
        signal?.addEventListener('abort', onAbort);
      });
    } else held.add(name);
    try {
      return await callback({ name, mode: 'exclusive' } as Lock);
    } finally {
      const next = waiting.get(name)?.shift();
      if (next) next();
      else held.delete(name);
    }
  }

  return { request } as LockManagerLike;
}
