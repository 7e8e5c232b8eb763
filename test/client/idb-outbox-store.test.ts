// The IndexedDB outbox store's chunked queue (fake-indexeddb): order across appends and tabs,
// settling any subset of entries, counting, and the upgrade of a version 1 database.
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { openIdbOutboxStore } from '../../client/idb-outbox-store.js';
import type { OutboxRecord } from '../../client/outbox-store.js';
import { createEnvelope, encodeEnvelope, uuidv7 } from '../../shared/index.js';
import { fakeServer, testClient, topics, until } from './support/helpers.js';
import { seedVersion1Outbox } from '../support/outbox-v1.js';

function records(n: number, tab = 'T'): OutboxRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const envelope = createEnvelope(topics.note, { n: i, text: `#${i}` });
    return { id: envelope.id, topic: topics.note.name, e: encodeEnvelope(envelope), tab };
  });
}

describe('IndexedDB outbox store', () => {
  it('returns entries in commit order across appends and tabs, with keys that grow', async () => {
    const factory = new IDBFactory();
    const [a, b] = await Promise.all([openIdbOutboxStore(factory, 'db'), openIdbOutboxStore(factory, 'db')]);
    const first = records(600, 'A');
    const second = records(3, 'B');
    const third = records(1, 'A');
    await a.append(first);
    await b.append(second);
    await a.append(third);
    const head = await b.head(10_000);
    expect(head.map((r) => r.id)).toEqual([...first, ...second, ...third].map((r) => r.id));
    expect(head[0]).toMatchObject({ ...first[0], key: expect.any(Number) });
    const keys = head.map((r) => r.key);
    expect(keys).toEqual([...keys].sort((x, y) => x - y));
    expect(new Set(keys).size).toBe(keys.length);
    expect((await a.head(5)).map((r) => r.id)).toEqual(first.slice(0, 5).map((r) => r.id));
    expect(await a.count()).toBe(604);
    a.close();
    b.close();
  });

  it('settles any subset of entries: they leave head and count, the rest stay in order, and a repeated settle is harmless', async () => {
    const store = await openIdbOutboxStore(new IDBFactory(), 'db');
    await store.append(records(600));
    const all = await store.head(10_000);
    // Every other entry of the first 300 (inside and across chunks), and a middle one again.
    const gone = all.slice(0, 300).filter((_, i) => i % 2 === 0);
    await store.settle({ keys: gone.map((r) => r.key), rejected: [], results: [] });
    await store.settle({ keys: [gone[10]!.key], rejected: [], results: [] });
    const left = all.filter((r) => !gone.includes(r));
    expect((await store.head(10_000)).map((r) => r.id)).toEqual(left.map((r) => r.id));
    expect(await store.count()).toBe(450);
    // A limit that ends inside a partly settled chunk.
    expect((await store.head(200)).map((r) => r.id)).toEqual(left.slice(0, 200).map((r) => r.id));
    await store.settle({ keys: left.map((r) => r.key), rejected: [], results: [] });
    expect(await store.head(10)).toEqual([]);
    expect(await store.count()).toBe(0);
    store.close();
  });

  it('upgrades a version 1 database: its queued entries drain first, in order, then new emits', async () => {
    const indexedDB = new IDBFactory();
    const name = `db-${uuidv7()}`;
    const old = records(3, 'old-tab');
    await seedVersion1Outbox(indexedDB, `fete-outbox:${name}`, old);

    const server = fakeServer();
    server.setAccepting(false);
    const client = testClient(server, { indexedDB, name });
    const fresh = await client.emit(topics.note, { n: 99, text: 'after the upgrade' });
    await until(() => client.status.pending === 4, 'pending 4');
    server.setAccepting(true);
    await fresh.delivered;
    await until(() => client.status.pending === 0, 'drained');
    expect(server.ids).toEqual([...old.map((r) => r.id), fresh.id]);
    await client.close();

    const stores = await new Promise<string[]>((resolve) => {
      const req = indexedDB.open(`fete-outbox:${name}`);
      req.onsuccess = () => {
        resolve([...req.result.objectStoreNames]);
        req.result.close();
      };
    });
    expect(stores.sort()).toEqual(['chunks', 'marks', 'rejected', 'results']);
  });
});
