// The page side of the outbox benchmark (runs in Chromium, served by the browser tests' page
// server): fete's enqueue path (`client.emit` resolved once durable) and two plain idb anchors
// writing the same records into the same store shape, each with `durability: 'strict'`.
import { openDB, type IDBPDatabase } from 'idb';
import { z } from 'zod';
import { createClient, defineTopic, defineTopics } from '../../client/index.js';

const topics = defineTopics({
  action: defineTopic('actions.{kind}', {
    kind: 'domain',
    clientEmit: true,
    schema: z.object({ kind: z.string(), n: z.number().int(), note: z.string() }),
  }),
});

/** A record as fete's outbox stores it (client/outbox-store.ts), written again by the anchors. */
interface OutboxRecord {
  id: string;
  topic: string;
  e: string;
  tab: string;
}

export interface Timing {
  puts: number;
  ms: number;
}

let sample: OutboxRecord[] = [];

function fresh(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = () => resolve();
    req.onerror = () => reject(req.error);
  });
}

/**
 * fete: `count` emits fired without awaiting each, then all awaited; each resolves once its record
 * is committed (strict) with its group. The client is offline, so nothing drains meanwhile. The
 * database is opened by an unmeasured first emit. Keeps the records written, for the anchors.
 */
export async function fete(count: number, round: number): Promise<Timing & { pending: number }> {
  const name = `bench-fete-${round}`;
  await fresh(`fete-outbox:${name}`);
  const client = createClient({ url: location.origin, topics, name });
  await client.emit(topics.action, { kind: 'warmup', n: -1, note: 'opens the database' });
  const start = performance.now();
  const calls: Promise<unknown>[] = [];
  for (let n = 0; n < count; n++) calls.push(client.emit(topics.action, { kind: 'click', n, note: 'button pressed on the bench page' }));
  await Promise.all(calls);
  const ms = performance.now() - start;
  // Pending is counted from the store: every record is there, none was sent.
  await new Promise((r) => setTimeout(r, 50));
  const pending = client.status.pending;
  await client.close();
  // The records fete wrote, read back from its store (chunks of records, client/idb-outbox-store.ts).
  const db = await openDB(`fete-outbox:${name}`);
  sample = ((await db.getAll('chunks')) as { records: OutboxRecord[] }[]).flatMap((c) => c.records);
  db.close();
  await fresh(`fete-outbox:${name}`);
  return { puts: count, ms, pending };
}

async function anchorDb(name: string): Promise<IDBPDatabase> {
  await fresh(name);
  return openDB(name, 1, { upgrade: (db) => void db.createObjectStore('queue', { keyPath: 'key', autoIncrement: true }) });
}

/** Anchor: one strict readwrite transaction per put, each awaited (the naive outbox). */
export async function txPerPut(count: number, round: number): Promise<Timing> {
  const name = `bench-one-${round}`;
  const db = await anchorDb(name);
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const tx = db.transaction('queue', 'readwrite', { durability: 'strict' });
    void tx.store.add(sample[i % sample.length]!);
    await tx.done;
  }
  const ms = performance.now() - start;
  db.close();
  await fresh(name);
  return { puts: count, ms };
}

/** Anchor: strict readwrite transactions of `perTx` puts each, one after the other. */
export async function txOfMany(count: number, perTx: number, round: number): Promise<Timing> {
  const name = `bench-many-${round}`;
  const db = await anchorDb(name);
  const start = performance.now();
  for (let i = 0; i < count; i += perTx) {
    const tx = db.transaction('queue', 'readwrite', { durability: 'strict' });
    for (let k = i; k < Math.min(count, i + perTx); k++) void tx.store.add(sample[k % sample.length]!);
    await tx.done;
  }
  const ms = performance.now() - start;
  db.close();
  await fresh(name);
  return { puts: count, ms };
}

/** Size of the records written, for the report. */
export function recordBytes(): number {
  return sample.length === 0 ? 0 : JSON.stringify(sample[0]).length;
}
