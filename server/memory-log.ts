// The log of `dispatch: 'inline'`: no store, so seqs come from a counter, duplicates are detected
// against the last 100,000 ids and idempotency keys (per tenant, as in the store), and the last 10,000 events are kept for
// readers of the tail (the realtime fanout). Everything is gone when the process ends.
import { type Envelope, Headers, matches } from '../shared/index.js';
import { tenantOf } from './security/tenant.js';
import type { EmitResult } from './types.js';

const MAX_KEYS = 100_000;
const MAX_EVENTS = 10_000;

/** The map keys an event is deduplicated by: its id and its idempotency key, within its tenant. */
function dedupeKeys(e: Envelope): { id: string; key: string | undefined } {
  const tenant = tenantOf(e);
  const key = e.headers[Headers.idempotencyKey];
  return { id: `id:${tenant}\n${e.id}`, key: key === undefined ? undefined : `key:${tenant}\n${key}` };
}

export class MemoryLog {
  #seq = 0;
  readonly #keys = new Map<string, { id: string; seq: number }>();
  readonly #events: Envelope[] = [];

  get head(): number {
    return this.#seq;
  }

  /** Appends in order; a repeated id or idempotency key returns the first append's seq. */
  append(envelopes: readonly Envelope[]): EmitResult[] {
    return envelopes.map((e) => {
      const { id, key } = dedupeKeys(e);
      const first = this.#keys.get(id) ?? (key === undefined ? undefined : this.#keys.get(key));
      if (first) return { ...first, duplicate: true };
      const seq = ++this.#seq;
      const stored = { ...e, seq };
      this.#remember(id, { id: e.id, seq });
      if (key !== undefined) this.#remember(key, { id: e.id, seq });
      this.#events.push(stored);
      if (this.#events.length > MAX_EVENTS) this.#events.shift();
      return { id: e.id, seq, duplicate: false };
    });
  }

  /** Forgets appends of a rolled-back transaction (their seqs stay unused). */
  forget(envelopes: readonly Envelope[]): void {
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
  read(after: number, pattern: string | undefined, limit: number): { events: Envelope[]; cursor: number } {
    const events: Envelope[] = [];
    let cursor = after;
    let scanned = 0;
    for (const e of this.#events) {
      if (e.seq! <= after) continue;
      if (scanned++ >= limit) break;
      cursor = e.seq!;
      if (pattern === undefined || matches(pattern, e.subject)) events.push(e);
    }
    return { events, cursor };
  }
}
