// The store's log: appends through event-queries.ts, reads through the gap-aware LogReader, the
// head and high water from SQL, prune watermarks from 002_retention, the epoch from 003_epoch, and
// its hooks: commit hooks run by this process's writers, append hooks fed by NOTIFY (any process).
import { type Envelope, FeteError, type TopicCatalog, isFeteError } from '../../shared/index.js';
import { patternsOverlap, topicPattern } from '../fanout/pattern-overlap.js';
import type { Queryable } from '../store/driver.js';
import { appendEvents, headSeq } from '../store/event-queries.js';
import { LogReader } from '../store/log-reader.js';
import { type ReplayPlan, replayPlanner } from '../store/replay-plan.js';
import { Notifier } from '../store/notifier.js';
import type { Store } from '../store/open-store.js';
import { patternToRegex } from '../store/pattern-regex.js';
import { pgliteTxScope } from '../store/pglite-driver.js';
import { prunedAfter } from '../store/retention-queries.js';
import type { LoggedResult } from '../emit-result.js';
import type { AppendScope, EventLog, LogPage } from './event-log.js';
import { Hooks } from './hooks.js';

/** Reads the store's epoch (003_epoch.sql). */
export async function readEpoch(store: Store): Promise<string> {
  const res = await store.driver.query<{ value: string }>(`SELECT value FROM ${store.tables.quotedSchema}.meta WHERE key = 'epoch'`);
  const epoch = res.rows[0]?.value;
  if (epoch === undefined) throw new FeteError('STORE_UNAVAILABLE', `the store in schema "${store.tables.schema}" has no epoch (meta table)`);
  return epoch;
}

/** Longest an append notice is held while this process's own appends are in flight (ms). */
const HOLD_MS = 5;

export class StoreLog implements EventLog {
  readonly durable = true;
  readonly epoch: string;
  /** The store's wake-up channel, shared with the dispatcher. */
  readonly notifier: Notifier;
  readonly #store: Store;
  readonly #catalog: TopicCatalog;
  readonly #reader: LogReader;
  /** How a pattern read uses the indexes (store/replay-plan.ts): topics it can match, subject range. */
  readonly #plan: (pattern: string) => ReplayPlan;
  readonly #commitHooks = new Hooks<readonly Envelope[]>();
  readonly #unlisten = new Set<() => void>();
  readonly #highWaterSql: string;
  readonly #lowSql: string;
  /** Autocommit appends of this process in flight, and the append notices (NOTIFY) held back while
   * any is: see #heard. */
  #appending = 0;
  #held: Array<() => void> = [];
  #holdTimer: ReturnType<typeof setTimeout> | undefined;

  /** Use `StoreLog.open`. */
  private constructor(store: Store, catalog: TopicCatalog, epoch: string) {
    this.#store = store;
    this.#catalog = catalog;
    this.epoch = epoch;
    this.notifier = new Notifier(store);
    this.#reader = new LogReader(store);
    this.#plan = replayPlanner(catalog);
    // `is_called` is false until the sequence hands out its first value (last_value is 1 then).
    this.#lowSql = `SELECT min(seq) AS seq FROM ${store.tables.events}`;
    this.#highWaterSql = `SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS v FROM ${store.tables.quotedSchema}.events_seq_seq`;
  }

  static async open(store: Store, catalog: TopicCatalog): Promise<StoreLog> {
    return new StoreLog(store, catalog, await readEpoch(store));
  }

  read(after: number, options: { pattern?: string; limit?: number } = {}): Promise<LogPage> {
    const subjectRegex = options.pattern === undefined ? undefined : patternToRegex(options.pattern);
    return this.#reader.read(after, options.limit ?? 500, subjectRegex, options.pattern === undefined ? undefined : this.#plan(options.pattern));
  }

  head(): Promise<number> {
    return headSeq(this.#store.driver, this.#store.tables);
  }

  async highWater(): Promise<number> {
    const res = await this.#store.driver.query<{ v: number | string }>(this.#highWaterSql);
    return Number(res.rows[0]?.v ?? 0);
  }

  pruned(after: number): Promise<Array<{ topic: string; through: number }>> {
    return prunedAfter(this.#store.driver, this.#store.tables, after);
  }

  async prunedThrough(after: number, pattern?: string): Promise<number | undefined> {
    // Events deleted by other means than retention (an app's own DELETE) leave no watermark: a log
    // that starts past `after + 1` may have lost what was between (or never committed it).
    const low = await this.#store.driver.query<{ seq: number | string | null }>(this.#lowSql);
    const first = low.rows[0]?.seq;
    let through: number | undefined = first === null || first === undefined || Number(first) - 1 <= after ? undefined : Number(first) - 1;
    for (const w of await this.pruned(after))
      if (w.through > (through ?? after) && (pattern === undefined || patternsOverlap(pattern, topicPattern(this.#catalog, w.topic)))) through = w.through;
    return through;
  }

  async append(envelopes: readonly Envelope[], scope: AppendScope = {}): Promise<LoggedResult[]> {
    const own = scope.q === undefined;
    if (own) this.#appending++;
    try {
      return await appendEvents(scope.q ?? this.#store.driver, this.#store.tables, envelopes, scope.take, scope.taken, scope.plans);
    } catch (err) {
      throw isFeteError(err) ? err : FeteError.from(err, 'STORE_UNAVAILABLE');
    } finally {
      if (own && --this.#appending === 0) this.#release();
    }
  }

  /**
   * An append notice (NOTIFY, any process) heard while an autocommit append of this process is in
   * flight is most often that append's own: PostgreSQL sends the NOTIFY at the commit, beside the
   * statement's answer, and this process may read it first. Passed on at once, it would make every
   * follower (the fanout's tail, SSE streams) read the log for events its commit hook hands over a
   * moment later. Held until this process's appends in flight are done (their commit hooks have run
   * by then: they run in the answer's microtasks), or HOLD_MS at most, then passed on; a follower
   * then finds the head covered and reads nothing (a probe at 100 emits/s with an attached fanout
   * on PostgreSQL: 3 tail reads per 300 emits, the 1 s poll's, instead of 68). Another process's
   * append is heard up to HOLD_MS later while this one appends.
   */
  #heard(fn: () => void): void {
    if (this.#appending === 0) return fn();
    this.#held.push(fn);
    this.#holdTimer ??= setTimeout(() => this.#release(), HOLD_MS);
  }

  #release(): void {
    clearTimeout(this.#holdTimer);
    this.#holdTimer = undefined;
    if (this.#held.length === 0) return;
    const held = this.#held;
    this.#held = [];
    // After the commit hooks of the appends that just finished (their answers' microtasks).
    setImmediate(() => {
      for (const fn of held) fn();
    });
  }

  transaction<R>(fn: (q: Queryable | undefined) => Promise<R>): Promise<R> {
    const driver = this.#store.driver;
    return driver.transaction((h) => pgliteTxScope.run({ driver, holding: () => !h.closed }, () => fn(h)));
  }

  committed(events: readonly Envelope[]): void {
    // Other processes (and this one's append hooks) hear of it through NOTIFY.
    if (events.length > 0) this.#commitHooks.run(events);
  }

  onAppend(fn: (headSeq: number | undefined) => void): () => void {
    let unsubscribe: (() => void) | undefined;
    let gone = false;
    const stop = () => {
      gone = true;
      this.#unlisten.delete(stop);
      unsubscribe?.();
    };
    this.#unlisten.add(stop);
    void this.notifier
      .subscribe((w) => {
        // Appends carry the head; a reconnect (listenerIds undefined) means "read again".
        if (w.headSeq !== undefined) this.#heard(() => gone || fn(w.headSeq));
        else if (w.listenerIds === undefined) fn(undefined);
      })
      .then((u) => (gone ? u() : (unsubscribe = u)));
    return stop;
  }

  onCommit(fn: (events: readonly Envelope[]) => void): () => void {
    return this.#commitHooks.add(fn);
  }

  async close(): Promise<void> {
    for (const stop of [...this.#unlisten]) stop();
    clearTimeout(this.#holdTimer);
    this.#held = [];
    this.#commitHooks.clear();
    await this.notifier.close();
  }
}
