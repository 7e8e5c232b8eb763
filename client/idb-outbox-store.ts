// The IndexedDB outbox store (idb 8), one database per client name, shared by every tab of the
// origin. `rejected` and `results` are keyed by envelope id.
//
// Queue layout (version 2): a group commit writes its records as a few *chunks* of up to
// CHUNK_RECORDS records, one IndexedDB value each, instead of one value per record. In Chromium
// each request costs tens of microseconds (IPC, bookkeeping) whatever its size, while cloning a
// small record costs about one: measured on this machine, one strict transaction of 5,000
// single-record adds commits ~27k records/s, one add of a 5,000-record array ~430k/s. With chunks,
// `npx tsx bench/run.ts outbox` went from ~19k to ~50-60k emits/s (5,000 emits fired at once).
// - `chunks` { key, records }: the key auto-increments, so chunk order is commit order across
//   tabs. A chunk is written once and never rewritten.
// - `marks` { key, n, removed }: per chunk, how many records it holds and which are settled. Small,
//   so counting and settling never read records. A chunk and its mark go once all are settled.
// A queued record's key is `chunk key × SPAN + index in the chunk`: it grows with commit order.
//
// Durability: `append` is the promise the app relies on ("your action is saved"), so it runs in a
// `durability: 'strict'` transaction (flushed to disk before `complete`). `settle` only removes
// acked entries and records outcomes; losing it in a crash means re-sending entries the server
// already has, which it answers as duplicates, so it uses the browser's default durability.
//
// Version 1 kept one record per value in a `queue` store; the upgrade moves them, in order, into
// chunks ahead of anything written later.
import { unwrap, wrap, type DBSchema, type IDBPDatabase, type IDBPTransaction, type StoreNames } from 'idb';
import type { OutboxRecord, OutboxStore, QueuedRecord, RejectedRecord, ResultRecord, Settlement } from './outbox-store.js';

const VERSION = 2;
/** Records per chunk. Bigger saves little on append (a burst of 5,000 is 20 chunks and 20 marks)
 * and makes the drainer read more of a partly settled chunk each time. */
const CHUNK_RECORDS = 250;
/** Key space per chunk (> CHUNK_RECORDS): keys stay safe integers for 2^37 chunks. */
const SPAN = 2 ** 16;

interface Chunk {
  /** Set by IndexedDB on add. */
  key?: number;
  records: OutboxRecord[];
}

interface Mark {
  /** The chunk's key. */
  key: number;
  n: number;
  /** Indexes of settled records, ascending. */
  removed: number[];
}

interface OutboxSchema extends DBSchema {
  chunks: { key: number; value: Chunk };
  marks: { key: number; value: Mark };
  rejected: { key: string; value: RejectedRecord };
  results: { key: string; value: ResultRecord };
}

type Db = IDBPDatabase<OutboxSchema>;

/** Adds `records` as chunks, each with its mark, in the caller's transaction. The mark needs the
 * chunk's generated key, so it is added from the chunk's success callback; a failure in either
 * aborts the whole transaction. */
function addChunks(chunks: IDBObjectStore, marks: IDBObjectStore, records: readonly OutboxRecord[]): void {
  for (let i = 0; i < records.length; i += CHUNK_RECORDS) {
    const part = records.slice(i, i + CHUNK_RECORDS);
    const request = chunks.add({ records: part } satisfies Chunk);
    request.onsuccess = () => {
      marks.add({ key: request.result as number, n: part.length, removed: [] } satisfies Mark);
    };
  }
}

/** Opens (creating or upgrading) the outbox database `name` in `factory`. */
export async function openIdbOutboxStore(factory: IDBFactory, name: string): Promise<OutboxStore> {
  // idb's openDB always uses the global indexedDB; opening through the given factory and wrapping
  // the request keeps the factory injectable (tests, a factory per test).
  const request = factory.open(name, VERSION);
  request.onupgradeneeded = () => {
    const db = request.result;
    const tx = request.transaction!;
    if (!db.objectStoreNames.contains('chunks')) db.createObjectStore('chunks', { keyPath: 'key', autoIncrement: true });
    if (!db.objectStoreNames.contains('marks')) db.createObjectStore('marks', { keyPath: 'key' });
    if (!db.objectStoreNames.contains('rejected')) db.createObjectStore('rejected', { keyPath: 'id' });
    if (!db.objectStoreNames.contains('results')) db.createObjectStore('results', { keyPath: 'id' });
    if (db.objectStoreNames.contains('queue')) {
      const old = tx.objectStore('queue').getAll();
      old.onsuccess = () => {
        const records = (old.result as QueuedRecord[]).map(({ key: _key, ...record }) => record);
        addChunks(tx.objectStore('chunks'), tx.objectStore('marks'), records);
        db.deleteObjectStore('queue');
      };
    }
  };
  const db = (await wrap(request)) as unknown as Db;
  // A later version opened by a newer tab: step aside instead of blocking its upgrade.
  db.addEventListener('versionchange', () => db.close());
  return new IdbOutboxStore(db);
}

const noop = () => {};

/** A stored record with its key. The database is the profile's, written by older versions, other
 * tabs, extensions: a value that is not a record (probe3: a `null` in a chunk made every `head`
 * throw, and nothing queued after it was ever sent) is handed on as an entry that cannot decode,
 * so the drainer sends it, the server rejects it MALFORMED, and it is settled into `rejected`. */
function queued(record: unknown, key: number): QueuedRecord {
  if (record !== null && typeof record === 'object') return Object.assign(record as OutboxRecord, { key });
  return { id: typeof record === 'string' ? record : '', topic: '', e: '', tab: '', key };
}

/** Issues requests synchronously, then waits for the commit. A request that throws while being
 * issued (a key or clone error) aborts the transaction, so nothing of it is written. */
async function inTransaction<S extends StoreNames<OutboxSchema>[]>(
  tx: IDBPTransaction<OutboxSchema, S, 'readwrite'>,
  issue: () => void,
): Promise<void> {
  try {
    issue();
  } catch (err) {
    tx.done.catch(noop);
    tx.abort();
    throw err;
  }
  await tx.done;
}

class IdbOutboxStore implements OutboxStore {
  readonly shared = true;
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async append(records: readonly OutboxRecord[]): Promise<void> {
    if (records.length === 0) return;
    const tx = this.#db.transaction(['chunks', 'marks'], 'readwrite', { durability: 'strict' });
    // Raw requests, with no promise per request: the transaction's outcome is the only one that
    // matters, and on abort its error is the cause (QuotaExceededError) where the requests only
    // say AbortError. This is the hot path of a burst of emits.
    await inTransaction(tx, () => addChunks(unwrap(tx.objectStore('chunks')), unwrap(tx.objectStore('marks')), records));
  }

  async head(limit: number): Promise<QueuedRecord[]> {
    // Two reads whatever the chunk sizes: the first marks (each chunk left holds at least one
    // entry, so `limit` marks are enough), then only the chunks those entries are in.
    const tx = this.#db.transaction(['chunks', 'marks'], 'readonly');
    const marks = await tx.objectStore('marks').getAll(undefined, limit);
    let needed = 0;
    for (let live = 0; needed < marks.length && live < limit; needed++) live += marks[needed]!.n - marks[needed]!.removed.length;
    // Every chunk has its mark (both are written and deleted together), so the first `needed`
    // chunks are the ones those marks describe.
    const chunks = needed === 0 ? [] : await tx.objectStore('chunks').getAll(undefined, needed);
    await tx.done;
    const byKey = new Map(marks.map((m) => [m.key, m]));
    const out: QueuedRecord[] = [];
    for (const chunk of chunks) {
      const mark = byKey.get(chunk.key!);
      if (mark === undefined) continue;
      const removed = new Set(mark.removed);
      for (let i = 0; i < chunk.records.length && out.length < limit; i++)
        if (!removed.has(i)) out.push(queued(chunk.records[i], mark.key * SPAN + i));
    }
    return out;
  }

  async count(): Promise<number> {
    const marks = await this.#db.getAll('marks');
    return marks.reduce((sum, m) => sum + m.n - m.removed.length, 0);
  }

  async settle({ keys, rejected, results }: Settlement): Promise<void> {
    const byChunk = new Map<number, number[]>();
    for (const key of keys) {
      const chunk = Math.floor(key / SPAN);
      const list = byChunk.get(chunk);
      if (list) list.push(key % SPAN);
      else byChunk.set(chunk, [key % SPAN]);
    }
    const tx = this.#db.transaction(['chunks', 'marks', 'rejected', 'results'], 'readwrite');
    tx.done.catch(noop); // awaited below; a failed read must not leave it unhandled
    // Read-modify-write of the marks inside one transaction: settles of two tabs cannot interleave.
    const markStore = tx.objectStore('marks');
    const marks = await Promise.all([...byChunk.keys()].map((k) => markStore.get(k)));
    await inTransaction(tx, () => {
      const chunkStore = unwrap(tx.objectStore('chunks'));
      const rawMarks = unwrap(markStore);
      for (const mark of marks) {
        if (mark === undefined) continue; // already settled and gone (a duplicate settle)
        const removed = [...new Set([...mark.removed, ...byChunk.get(mark.key)!])].sort((a, b) => a - b);
        if (removed.length >= mark.n) {
          chunkStore.delete(mark.key);
          rawMarks.delete(mark.key);
        } else rawMarks.put({ ...mark, removed } satisfies Mark);
      }
      const rej = unwrap(tx.objectStore('rejected'));
      for (const r of rejected) rej.put(r);
      const res = unwrap(tx.objectStore('results'));
      for (const r of results) res.put(r);
    });
  }

  async results(ids: readonly string[]): Promise<ResultRecord[]> {
    if (ids.length === 0) return [];
    const tx = this.#db.transaction('results', 'readonly');
    const found = await Promise.all(ids.map((id) => tx.store.get(id)));
    await tx.done;
    return found.filter((r): r is ResultRecord => r !== undefined);
  }

  async forgetResults(which: { ids: readonly string[] } | { olderThan: number }): Promise<void> {
    const tx = this.#db.transaction('results', 'readwrite');
    if ('ids' in which) {
      await inTransaction(tx, () => {
        const store = unwrap(tx.store);
        for (const id of which.ids) store.delete(id);
      });
      return;
    }
    // Results are few (only other tabs' entries, for minutes): a full scan is cheap.
    for (let cursor = await tx.store.openCursor(); cursor; cursor = await cursor.continue())
      if (cursor.value.at < which.olderThan) cursor.delete().catch(noop);
    await tx.done;
  }

  async rejected(): Promise<RejectedRecord[]> {
    const all = await this.#db.getAll('rejected');
    return all.sort((a, b) => a.at - b.at);
  }

  async discardRejected(ids?: readonly string[]): Promise<void> {
    const tx = this.#db.transaction('rejected', 'readwrite');
    await inTransaction(tx, () => {
      const store = unwrap(tx.store);
      if (ids === undefined) store.clear();
      else for (const id of ids) store.delete(id);
    });
  }

  async clearQueue(): Promise<Array<{ id: string; cmd: boolean }>> {
    const tx = this.#db.transaction(['chunks', 'marks', 'rejected', 'results'], 'readwrite', { durability: 'strict' });
    tx.done.catch(noop); // awaited below; a failed read must not leave it unhandled
    const chunkStore = tx.objectStore('chunks');
    const markStore = tx.objectStore('marks');
    // Read and cleared in one transaction: an append or settle of another tab goes before or after.
    const [chunks, marks] = await Promise.all([chunkStore.getAll(), markStore.getAll()]);
    const byKey = new Map(marks.map((m) => [m.key, m]));
    const out: Array<{ id: string; cmd: boolean }> = [];
    for (const chunk of chunks) {
      const mark = byKey.get(chunk.key!);
      if (mark === undefined) continue;
      const removed = new Set(mark.removed);
      chunk.records.forEach((r, i) => {
        if (removed.has(i)) return;
        const q = queued(r, 0); // a stored value that is not a record must not stop the clear
        out.push({ id: q.id, cmd: q.cmd !== undefined });
      });
    }
    await Promise.all([chunkStore.clear(), markStore.clear(), tx.objectStore('rejected').clear(), tx.objectStore('results').clear()]);
    await tx.done;
    return out;
  }

  close(): void {
    this.#db.close();
  }
}
