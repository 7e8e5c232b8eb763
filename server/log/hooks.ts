// A set of callbacks run in order with one value; a callback that throws is logged and skipped, so
// one reader's fault never stops the writer or the other readers.
import createDebug from 'debug';

const debug = createDebug('fete:log');

export class Hooks<T> {
  readonly #fns = new Set<(value: T) => void>();

  get size(): number {
    return this.#fns.size;
  }

  /** Adds `fn`; returns its removal. */
  add(fn: (value: T) => void): () => void {
    this.#fns.add(fn);
    return () => void this.#fns.delete(fn);
  }

  run(value: T): void {
    for (const fn of this.#fns) {
      try {
        fn(value);
      } catch (err) {
        debug('a log hook threw: %s', (err as Error)?.message);
      }
    }
  }

  clear(): void {
    this.#fns.clear();
  }
}
