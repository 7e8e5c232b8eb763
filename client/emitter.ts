// A minimal typed event emitter for the client's own events (status, gap, error). A listener that
// throws is skipped: it must not break the connection or the outbox that called it, and the SDK has
// no console to report it to.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Listeners<E> = { [K in keyof E]: (...args: any[]) => void };

export class Emitter<E extends Listeners<E>> {
  readonly #listeners = new Map<keyof E, Set<E[keyof E]>>();

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof E>(event: K, listener: E[K]): () => void {
    let set = this.#listeners.get(event);
    if (set === undefined) this.#listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  emit<K extends keyof E>(event: K, ...args: Parameters<E[K]>): void {
    const set = this.#listeners.get(event);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch {
        // see the file header
      }
    }
  }

  clear(): void {
    this.#listeners.clear();
  }
}
