// The log of `dispatch: 'inline'`: no store, so seqs come from a counter, duplicates are detected
// against the last 100,000 ids and idempotency keys (per tenant, as in the store), and the last 10,000 events are kept for
// readers (the realtime fanout, SSE, `fete.follow`). A resume from before the oldest kept event is
// told so (`prunedThrough`). The epoch is new per process: everything is gone when it ends, and a
// cursor from an earlier process is from another log.
import { randomBytes } from 'node:crypto';
import { type Envelope, Headers, matches } from '../../shared/index.js';
import { tenantOf } from '../security/tenant.js';
import type { Queryable } from '../store/driver.js';
import type { LoggedResult } from '../emit-result.js';
import type { EventLog, LogPage } from './event-log.js';
import { Hooks } from './hooks.js';

const MAX_KEYS = 100_000;

/** The map keys an event is deduplicated by: its id and its idempotency key, within its tenant. */
function dedupeKeys(e: Envelope): { id: string; key: string | undefined } {
  const tenant = tenantOf(e);
  const key = e.headers[Headers.idempotencyKey];
  return { id: `id:${tenant}\n${e.id}`, key: key === undefined ? undefined : `key:${tenant}\n${key}` };
}
/** @default bound of the events kept for readers. */
export const MEMORY_LOG_EVENTS = 10_000;

export class MemoryLog implements EventLog {
  readonly epoch = `m${randomBytes(8).toString('hex')}`;
  readonly durable = false;
  #seq = 0;
  /** The highest seq dropped from `#events` by the bound (0: none yet). */
  #evictedThrough = 0;
  readonly #keys = new Map<string, { id: string; seq: number }>();
  readonly #events: Envelope[] = [];
  readonly #appendHooks = new Hooks<number | undefined>();
  readonly #commitHooks = new Hooks<readonly Envelope[]>();
  readonly #maxEvents: number;

  constructor(maxEvents = MEMORY_LOG_EVENTS) {
    this.#maxEvents = maxEvents;
  }

  async head(): Promise<number> {
    return this.#seq;
  }

  /** The head, synchronously (stats). */
  get headSeq(): number {
    return this.#seq;
  }

  async highWater(): Promise<number> {
    return this.#seq;
  }

  async prunedThrough(after: number): Promise<number | undefined> {
    // Evicted by count, whatever the subject: any pattern may have lost events there.
    return this.#evictedThrough > after ? this.#evictedThrough : undefined;
  }

  async pruned(): Promise<Array<{ topic: string; through: number }>> {
    return [];
  }

  /** Appends in order; a repeated id or idempotency key returns the first append's seq. */
  async append(envelopes: readonly Envelope[]): Promise<LoggedResult[]> {
    return envelopes.map((e) => {
      const { id, key } = dedupeKeys(e);
      const first = this.#keys.get(id) ?? (key === undefined ? undefined : this.#keys.get(key));
      if (first) return { ...first, duplicate: true };
      const seq = ++this.#seq;
      const stored = { ...e, seq };
      this.#remember(id, { id: e.id, seq });
      if (key !== undefined) this.#remember(key, { id: e.id, seq });
      this.#events.push(stored);
      if (this.#events.length > this.#maxEvents) this.#evictedThrough = this.#events.shift()!.seq!;
      return { id: e.id, seq, duplicate: false };
    });
  }

  async transaction<R>(fn: (q: Queryable | undefined) => Promise<R>, appended: () => readonly Envelope[]): Promise<R> {
    try {
      return await fn(undefined);
    } catch (err) {
      this.#forget(appended());
      throw err;
    }
  }

  committed(events: readonly Envelope[]): void {
    if (events.length > 0) this.#commitHooks.run(events);
    this.#appendHooks.run(this.#seq);
  }

  /** Forgets appends of a rolled-back transaction (their seqs stay unused). */
  /** Forgets appends that were rolled back (an inline attempt's ctx.emit after a failure). */
  forget(envelopes: readonly Envelope[]): void {
    this.#forget(envelopes);
  }

  #forget(envelopes: readonly Envelope[]): void {
    const ids = new Set(envelopes.map((e) => e.id));
    for (const e of envelopes) {
      const { id, key } = dedupeKeys(e);
      this.#keys.delete(id);
      if (key !== undefined && ids.has(this.#keys.get(key)?.id ?? '')) this.#keys.delete(key);
    }
    for (let i = this.#events.length - 1; i >= 0; i--) if (ids.has(this.#events[i]!.id)) this.#events.splice(i, 1);
  }

  #remember(k: string, v: { id: string; seq: number }): void {
    this.#keys.set(k, v);
    if (this.#keys.size > MAX_KEYS) this.#keys.delete(this.#keys.keys().next().value!);
  }

  /** Events after `after` matching `pattern`; `cursor` is the last seq scanned (no gaps here:
   * appends are synchronous). */
  async read(after: number, options: { pattern?: string; limit?: number } = {}): Promise<LogPage> {
    const limit = options.limit ?? 500;
    const pattern = options.pattern;
    const events: Envelope[] = [];
    let cursor = after;
    let scanned = 0;
    // Seqs are increasing: start at the first event after `after` (binary search), not at 0.
    let lo = 0;
    let hi = this.#events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#events[mid]!.seq! <= after) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.#events.length; i++) {
      const e = this.#events[i]!;
      if (scanned++ >= limit) break;
      cursor = e.seq!;
      if (pattern === undefined || matches(pattern, e.subject)) events.push(e);
    }
    return { events, cursor };
  }

  onAppend(fn: (headSeq: number | undefined) => void): () => void {
    return this.#appendHooks.add(fn);
  }

  onCommit(fn: (events: readonly Envelope[]) => void): () => void {
    return this.#commitHooks.add(fn);
  }

  async close(): Promise<void> {
    this.#appendHooks.clear();
    this.#commitHooks.clear();
  }
}

