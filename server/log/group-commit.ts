// Group commit for the autocommit appends of one process: an append is in flight at a time, and
// every request that arrives meanwhile waits and goes with the others in the next one (one
// statement, one commit, one round trip for all of them). Under load the batch grows by itself;
// alone, a request starts at once (no timer, no added wait).
//
// Each request keeps its own outcome: its own results (seq, duplicate) sliced from the group's, and
// its own failure. A group whose append fails appended nothing (one statement, autocommit); when
// the store refused it for its content, each of its requests is appended again alone, in order: a
// request the store refuses fails by itself, and the others succeed as if they had never been
// grouped. When the store could not be reached, the whole group fails at once.
//
// Order: requests are appended in the order they were submitted (a request submitted after another
// resolved gets a higher seq), and `after` runs group by group in seq order. The next group's
// append is sent before `after` of the previous one runs, so that the store works on it while this
// process fans out the events just committed.
import createDebug from 'debug';

const debug = createDebug('fete:log');

export interface GroupCommitOptions<I, R, X> {
  /** Appends the items of one group (in order) and returns one result per item plus whatever
   * `after` needs (claimed deliveries, ...). Rejects when nothing was appended. */
  append(items: readonly I[]): Promise<{ results: R[]; extra: X }>;
  /** Runs after the group's commit, before its requests resolve (commit hooks, inline listeners). */
  after(items: readonly I[], results: readonly R[], extra: X): void;
  /** Size of an item (events) and most of it per group (a larger item still goes alone). */
  sizeOf(item: I): number;
  maxGroupSize: number;
  /** Whether a group's failure may be the fault of one of its items (the store refused the
   * statement for its content): then each item is appended again alone. Otherwise (the store is
   * unreachable, out of resources...) every item fails with the same error at once: appending
   * them one by one would only wait for the same fault once per item. */
  mayBeOneItems(err: unknown): boolean;
}

interface Pending<I, R> {
  item: I;
  resolve(result: R): void;
  reject(err: unknown): void;
}

export class GroupCommit<I, R, X> {
  readonly #o: GroupCommitOptions<I, R, X>;
  #queue: Array<Pending<I, R>> = [];
  #inFlight = false;
  /** Groups appended since start, and requests in them (stats and tests). */
  groups = 0;
  requests = 0;

  constructor(options: GroupCommitOptions<I, R, X>) {
    this.#o = options;
  }

  /** Appends `item` with whatever else is waiting; resolves with its own result after `after`. */
  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#next();
    });
  }

  /** Requests waiting for the append in flight. */
  get waiting(): number {
    return this.#queue.length;
  }

  #take(): Array<Pending<I, R>> {
    let size = 0;
    let n = 0;
    while (n < this.#queue.length) {
      const s = this.#o.sizeOf(this.#queue[n]!.item);
      if (n > 0 && size + s > this.#o.maxGroupSize) break;
      size += s;
      n++;
    }
    return this.#queue.splice(0, n);
  }

  #next(): void {
    if (this.#inFlight || this.#queue.length === 0) return;
    this.#inFlight = true;
    const group = this.#take();
    const items = group.map((p) => p.item);
    this.groups++;
    this.requests += group.length;
    this.#o.append(items).then(
      ({ results, extra }) => {
        this.#inFlight = false;
        this.#next(); // the next group's append is on its way while this one's `after` runs
        this.#settle(group, items, results, extra);
      },
      (err: unknown) => {
        if (group.length === 1 || !this.#o.mayBeOneItems(err)) {
          this.#inFlight = false;
          this.#next();
          for (const p of group) p.reject(err);
          return;
        }
        void this.#alone(group).finally(() => {
          this.#inFlight = false;
          this.#next();
        });
      },
    );
  }

  #settle(group: Array<Pending<I, R>>, items: readonly I[], results: readonly R[], extra: X): void {
    try {
      this.#o.after(items, results, extra);
    } catch (err) {
      // The events are committed: their emits succeed; what failed after is the reader's fault.
      debug('after a group commit: %s', (err as Error)?.message);
    }
    for (let i = 0; i < group.length; i++) group[i]!.resolve(results[i]!);
  }

  /** After a group failed: each request appended by itself, in order, failing or not on its own. */
  async #alone(group: Array<Pending<I, R>>): Promise<void> {
    for (const p of group) {
      try {
        const { results, extra } = await this.#o.append([p.item]);
        this.#settle([p], [p.item], results, extra);
      } catch (err) {
        p.reject(err);
      }
    }
  }
}
