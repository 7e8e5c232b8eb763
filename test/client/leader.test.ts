// Tabs sharing one IndexedDB outbox: two clients on one database name with a Web Locks double and
// Node's BroadcastChannel (or polling alone). Only the lock holder drains; the other tab's emits
// reach the server through the shared store and its receipts settle from the leader's outcomes.
import { afterEach, describe, expect, it } from 'vitest';
import type { Client, ClientOptions } from '../../client/index.js';
import { uuidv7 } from '../../shared/index.js';
import { createFakeLocks } from './support/fake-locks.js';
import type { FakeFeteServer } from './support/fake-server.js';
import { IDBFactory, fakeServer, testClient, topics, until, type Topics } from './support/helpers.js';

const open: Client<Topics>[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

/** Two "tabs": same IndexedDB database, same lock manager. A is created first and leads. */
async function twoTabs(server: FakeFeteServer, options: Partial<ClientOptions<Topics>> = {}) {
  const shared = { indexedDB: new IDBFactory(), name: `db-${uuidv7()}`, locks: createFakeLocks(), ...options };
  const a = testClient(server, { ...shared, label: 'A' });
  open.push(a);
  await until(() => a.status.leader, 'A leads');
  const b = testClient(server, { ...shared, label: 'B' });
  open.push(b);
  await until(() => b.status.connected, 'B connected');
  return { a, b, shared };
}

describe('leader tab', () => {
  it("only the lock holder drains; the other tab's emits are delivered and its receipts settle", async () => {
    const server = fakeServer();
    // No polling to fall back on: the leader is woken, and B's receipts settled, by broadcasts alone.
    const { a, b } = await twoTabs(server, { pollIntervalMs: 3_600_000 });
    expect(b.status.leader).toBe(false);
    const fromB = await Promise.all([1, 2, 3].map((n) => b.emit(topics.note, { n, text: 'from B' })));
    const fromA = await a.emit(topics.note, { n: 4, text: 'from A' });
    const delivered = await Promise.all([...fromB, fromA].map((r) => r.delivered));
    expect(delivered.map((d) => d.duplicate)).toEqual([false, false, false, false]);
    expect(server.ids).toEqual([...fromB, fromA].map((r) => r.id));
    expect(new Set(server.emitPackets.map((p) => p.from))).toEqual(new Set(['A']));
    await until(() => b.status.pending === 0 && a.status.pending === 0, 'both see an empty outbox');
  });

  it("settles a non-leader's receipts by polling when there is no BroadcastChannel", async () => {
    const server = fakeServer();
    const { b } = await twoTabs(server, { broadcastChannel: null });
    const receipt = await b.emit(topics.note, { n: 1, text: '' });
    await expect(receipt.delivered).resolves.toMatchObject({ id: receipt.id, seq: 1, duplicate: false });
    expect(server.emitPackets.map((p) => p.from)).toEqual(['A']);
  });

  it("rejects a non-leader's refused emit and lists it in every tab", async () => {
    const server = fakeServer({ reject: () => ({ code: 'FORBIDDEN', message: 'no' }) });
    const { a, b } = await twoTabs(server);
    const receipt = await b.emit(topics.note, { n: 1, text: '' });
    await expect(receipt.delivered).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect((await a.outbox.rejected()).map((r) => r.id)).toEqual([receipt.id]);
    expect((await b.outbox.rejected()).map((r) => r.id)).toEqual([receipt.id]);
  });

  it('when the leader closes, the next tab takes the lock and drains what is left, each id once', async () => {
    const server = fakeServer();
    const { a, b } = await twoTabs(server);
    server.setAccepting(false);
    server.dropAll();
    const fromA = await a.emit(topics.note, { n: 1, text: 'A, left behind' });
    const fromB = await b.emit(topics.note, { n: 2, text: 'B' });
    await a.close();
    await until(() => b.status.leader, 'B takes over');
    server.setAccepting(true);
    await expect(fromB.delivered).resolves.toMatchObject({ duplicate: false });
    await until(() => server.ids.length === 2, 'both delivered');
    expect(server.ids).toEqual([fromA.id, fromB.id]);
    expect(server.emitPackets.every((p) => p.from === 'B')).toBe(true);
  });

  it('a leader that closes with a batch in flight leaves it to the next tab, which the server answers as duplicates', async () => {
    const server = fakeServer();
    const { a, b } = await twoTabs(server);
    server.loseNextAck(); // A's batch is applied, its ack never arrives
    server.setAccepting(false); // ...and A cannot reconnect to resend it
    const receipt = await b.emit(topics.note, { n: 1, text: '' });
    await until(() => server.ids.length === 1, 'applied by the server');
    await a.close();
    await until(() => b.status.leader, 'B takes over');
    server.setAccepting(true);
    await expect(receipt.delivered).resolves.toEqual({ id: receipt.id, seq: 1, duplicate: true });
    expect(server.ids).toEqual([receipt.id]);
  });

  it('without Web Locks every client leads', async () => {
    const server = fakeServer();
    const a = testClient(server, { locks: null });
    open.push(a);
    await until(() => a.status.leader, 'leads');
  });
});
