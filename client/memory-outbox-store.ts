// The in-memory outbox store, for `outbox: 'memory'` (no IndexedDB: tests, workers, SSR): the same
// interface and ordering as IndexedDB, nothing persisted, nothing shared between tabs.
import type { OutboxRecord, OutboxStore, QueuedRecord, RejectedRecord, ResultRecord, Settlement } from './outbox-store.js';

export function createMemoryOutboxStore(): OutboxStore {
  // A Map keeps insertion order, which is key order here: keys only grow.
  const queue = new Map<number, QueuedRecord>();
  const rejected = new Map<string, RejectedRecord>();
  const results = new Map<string, ResultRecord>();
  let nextKey = 1;

  return {
    shared: false,
    async append(records: readonly OutboxRecord[]) {
      for (const r of records) {
        const key = nextKey++;
        queue.set(key, { ...r, key });
      }
    },
    async head(limit: number) {
      const out: QueuedRecord[] = [];
      for (const r of queue.values()) {
        if (out.length >= limit) break;
        out.push({ ...r });
      }
      return out;
    },
    async count() {
      return queue.size;
    },
    async settle({ keys, rejected: rej, results: res }: Settlement) {
      for (const k of keys) queue.delete(k);
      for (const r of rej) rejected.set(r.id, { ...r });
      for (const r of res) results.set(r.id, { ...r });
    },
    async results(ids: readonly string[]) {
      return ids.flatMap((id) => {
        const r = results.get(id);
        return r ? [{ ...r }] : [];
      });
    },
    async forgetResults(which) {
      if ('ids' in which) for (const id of which.ids) results.delete(id);
      else for (const [id, r] of results) if (r.at < which.olderThan) results.delete(id);
    },
    async rejected() {
      return [...rejected.values()].sort((a, b) => a.at - b.at).map((r) => ({ ...r }));
    },
    async discardRejected(ids?: readonly string[]) {
      if (ids === undefined) rejected.clear();
      else for (const id of ids) rejected.delete(id);
    },
    async clearQueue() {
      const out = [...queue.values()].map((r) => ({ id: r.id, cmd: r.cmd !== undefined }));
      queue.clear();
      rejected.clear();
      results.clear();
      return out;
    },
    close() {},
  };
}
