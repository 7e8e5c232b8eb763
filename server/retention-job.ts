// The retention job: in processes with the worker role, every `retention.intervalMs` it prunes the
// log of each catalogue topic that declares `retention` (shared/topic.ts), in batches, and records
// each topic's prune watermark (store/retention-queries.ts) so that resumes can report gaps.
//
// What is never pruned: events whose durable deliveries are not all done (pending, running, or
// dead letters that may still be retried), and events younger than `graceMs`. Deliveries owed by
// an orphaned listener (listeners.orphanAfterMs) do not count, unless `orphanRetention: 'pin'`:
// they are deleted with their event. The grace keeps
// pruning away from the head of the log, where tails and live subscribers read: a tail reads an
// event within milliseconds of its commit, so an event deleted before any reader saw it could only
// be one younger than that, and a retention shorter than the grace just waits for the grace.
// Several worker processes may prune at once: they delete disjoint or already-deleted rows.
import createDebug from 'debug';
import type { TopicCatalog } from '../shared/index.js';
import type { Driver } from './store/driver.js';
import type { Tables } from './store/tables.js';
import { ensurePruneIndex, pruneTopic, type PruneRule } from './store/retention-queries.js';

const debug = createDebug('fete:retention');

export interface RetentionOptions {
  /** How often the worker prunes (0: never by itself; `fete.prune()` still does). @default 60_000 */
  intervalMs?: number;
  /** Events younger than this are never pruned, whatever a topic declares; and a removal of a
   * latest value (a clear, an expiry) younger than this is told to every resume, whatever its
   * cursor (a live subscriber has had it by then, or lost its connection). @default 10_000 */
  graceMs?: number;
  /** How long removals of latest values (`fete.clearLatest`, a topic's `ttlMs`) are kept, in
   * milliseconds, to tell a resume which values it holds are gone. A resume from a cursor older
   * than that is told instead that its snapshot is complete (the client drops the values it holds
   * that the snapshot does not restate, and calls `onCleared` for each). Pruned by every server
   * process every `intervalMs`, and at `fete.prune()`. @default 86_400_000 (one day) */
  removalsMs?: number;
  /** Events deleted per statement (each batch is its own short transaction). @default 1000 */
  batchSize?: number;
}

export interface PruneReport {
  topic: string;
  deleted: number;
  /** The topic's watermark if this pass moved it. */
  prunedThrough: number | undefined;
}

export class RetentionJob {
  readonly #rules: PruneRule[];
  #timer: ReturnType<typeof setInterval> | undefined;
  #running: Promise<PruneReport[]> | undefined;
  #indexed = false;
  #stopped = false;

  constructor(
    private readonly store: { readonly driver: Driver; readonly tables: Tables },
    catalog: TopicCatalog,
    private readonly o: Required<RetentionOptions>,
    lifecycle?: { orphanAfterMs: number; orphanRetention: 'release' | 'pin' },
  ) {
    this.#rules = Object.values(catalog)
      .filter((t) => t.retention !== undefined && (t.retention.maxAgeMs !== undefined || t.retention.maxEvents !== undefined))
      .map((t) => ({ topic: t.name, maxAgeMs: t.retention!.maxAgeMs, maxEvents: t.retention!.maxEvents === undefined ? undefined : Math.ceil(t.retention!.maxEvents), graceMs: o.graceMs, orphanAfterMs: lifecycle?.orphanRetention === 'release' ? lifecycle.orphanAfterMs : undefined }));
  }

  /** Topics with a retention rule in this catalogue. */
  get topics(): string[] {
    return this.#rules.map((r) => r.topic);
  }

  start(): void {
    if (this.#rules.length === 0 || this.o.intervalMs === 0 || this.#timer) return;
    this.#timer = setInterval(() => void this.run().catch(() => undefined), this.o.intervalMs);
    this.#timer.unref();
  }

  /** One pass over every topic with a rule, until each has nothing more to prune (coalesced:
   * a call during a pass waits for that pass). */
  run(): Promise<PruneReport[]> {
    this.#running ??= this.#pass().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #pass(): Promise<PruneReport[]> {
    const { driver, tables } = this.store;
    if (!this.#indexed && this.#rules.length > 0) {
      await ensurePruneIndex(driver, tables);
      this.#indexed = true;
    }
    const reports: PruneReport[] = [];
    for (const rule of this.#rules) {
      const report: PruneReport = { topic: rule.topic, deleted: 0, prunedThrough: undefined };
      for (;;) {
        if (this.#stopped) return reports;
        try {
          const { deleted, through } = await pruneTopic(driver, tables, rule, this.o.batchSize);
          report.deleted += deleted;
          if (through !== undefined) report.prunedThrough = through;
          if (deleted < this.o.batchSize) break;
        } catch (err) {
          debug('pruning %s failed (next pass retries): %s', rule.topic, (err as Error).message);
          break;
        }
      }
      if (report.deleted > 0) debug('pruned %d events of %s through seq %d', report.deleted, rule.topic, report.prunedThrough);
      reports.push(report);
    }
    return reports;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#running?.catch(() => undefined);
  }
}
