// Group commit for the outbox: concurrent `emit` calls share one durable transaction. A strict
// IndexedDB commit costs a disk flush (milliseconds), so a transaction per emit caps a burst at a
// few hundred emits per second; here every emit that arrives while a transaction is in flight waits
// for the next one, which then writes all of them together. Each caller still resolves only after
// the transaction holding its own record has committed, and records keep their submission order.
//
// The first write waits one microtask, so a synchronous burst (a loop of emits without awaits) goes
// into a single transaction instead of one for the first emit and one for the rest.

interface Waiting<T> {
  item: T;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class GroupCommit<T> {
  readonly #write: (items: T[]) => Promise<void>;
  #queue: Waiting<T>[] = [];
  #running: Promise<void> | undefined;

  /** `write` commits a group in one transaction, or throws and commits nothing. */
  constructor(write: (items: T[]) => Promise<void>) {
    this.#write = write;
  }

  /** Resolves once `item` is committed; rejects with the write's error if its group failed. */
  submit(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#running ??= Promise.resolve().then(() => this.#loop());
    });
  }

  /** Resolves once everything submitted so far is written (or failed). */
  async flushed(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  async #loop(): Promise<void> {
    while (this.#queue.length > 0) {
      const group = this.#queue;
      this.#queue = [];
      try {
        await this.#write(group.map((w) => w.item));
      } catch (err) {
        for (const w of group) w.reject(err);
        continue;
      }
      for (const w of group) w.resolve();
    }
    this.#running = undefined;
  }
}
