// The browser outbox as version 1 of the client laid it out (one value per entry in a `queue`
// store), written directly, as an older release would have left it. Used by the upgrade tests in
// Node (fake-indexeddb) and in Chromium (served to the page), so it imports nothing.

export interface Version1Record {
  id: string;
  topic: string;
  e: string;
  tab: string;
}

export function seedVersion1Outbox(factory: IDBFactory, dbName: string, records: readonly Version1Record[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = factory.open(dbName, 1);
    request.onupgradeneeded = () => {
      const db = request.result;
      const queue = db.createObjectStore('queue', { keyPath: 'key', autoIncrement: true });
      db.createObjectStore('rejected', { keyPath: 'id' });
      db.createObjectStore('results', { keyPath: 'id' });
      for (const r of records) queue.add(r);
    };
    request.onsuccess = () => {
      request.result.close();
      resolve();
    };
    request.onerror = () => reject(request.error);
  });
}
