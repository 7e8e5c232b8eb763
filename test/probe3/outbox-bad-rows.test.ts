// probe3: the outbox database belongs to the browser profile; a value in it that is not a record
// (a null or a number in a queued chunk: another version, an extension, a damaged profile) must
// not stop the queue. Before, every read of the queue threw on it, so nothing queued after it was
// ever sent, and outbox.clear() (sign-out) failed too.
import { describe, expect, it } from 'vitest';
import { openIdbOutboxStore } from '../../client/idb-outbox-store.js';
import { uuidv7 } from '../../shared/index.js';
import { IDBFactory, fakeServer, testClient, topics, until } from '../client/support/helpers.js';

async function seeded(values: unknown[]): Promise<{ indexedDB: IDBFactory; name: string }> {
  const indexedDB = new IDBFactory();
  const name = `db-${uuidv7()}`;
  const store = await openIdbOutboxStore(indexedDB, `fete-outbox:${name}`);
  await store.append(values as never);
  store.close();
  return { indexedDB, name };
}

describe('an outbox holding stored values that are not records', () => {
  it('still sends what was queued after them; they are rejected, not retried forever', async () => {
    const server = fakeServer();
    const client = testClient(server, await seeded([null, 42]));
    const fresh = await client.emit(topics.note, { n: 1, text: 'after the bad rows' });
    await fresh.delivered;
    await until(() => client.status.pending === 0, 'the outbox drained');
    expect(server.ids).toEqual([fresh.id]);
    expect((await client.outbox.rejected()).map((r) => r.error.code)).toEqual(['MALFORMED']); // both keyed by the empty id
    await client.close();
  });

  it('is cleared by outbox.clear() at sign-out', async () => {
    const server = fakeServer();
    server.setAccepting(false);
    const client = testClient(server, await seeded([null, 'text']));
    await until(() => client.status.pending === 2, 'the stored values counted');
    await client.outbox.clear();
    expect(client.status.pending).toBe(0);
    server.setAccepting(true);
    const fresh = await client.emit(topics.note, { n: 2, text: 'next user' });
    await fresh.delivered;
    expect(server.ids).toEqual([fresh.id]);
    await client.close();
  });
});
