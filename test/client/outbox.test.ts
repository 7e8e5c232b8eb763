// The client outbox against the fake protocol server: durable enqueue (group commit, strict
// IndexedDB transactions), reload, batching, rejection, retries, duplicates, quota and validation.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMemoryOutboxStore } from '../../client/memory-outbox-store.js';
import type { OutboxRecord, OutboxStore } from '../../client/outbox-store.js';
import { FeteError, PROTOCOL_LIMITS, uuidv7 } from '../../shared/index.js';
import { IDBFactory, closeAfterEach, fakeServer, settle, testClient, topics, until } from './support/helpers.js';

const track = closeAfterEach();
afterEach(() => {
  vi.restoreAllMocks();
});

const order = (orderId: string, total = 1) => ({ orderId, total });

describe('emit', () => {
  it('resolves once queued, and delivered resolves with the seq the server assigned', async () => {
    const server = fakeServer();
    const client = track(testClient(server));
    const receipt = await client.emit(topics.orderPlaced, order('o-1', 12));
    expect(receipt.envelope).toMatchObject({ topic: 'orders.{orderId}.placed', subject: 'orders.o-1.placed', payload: { total: 12 } });
    await expect(receipt.delivered).resolves.toEqual({ id: receipt.id, seq: 1, duplicate: false });
    expect(server.ids).toEqual([receipt.id]);
    await until(() => client.status.pending === 0, 'pending 0');
  });

  it("writes each group in one readwrite transaction with durability 'strict', as a few chunk values rather than one per emit", async () => {
    const transaction = vi.spyOn(IDBDatabase.prototype, 'transaction');
    const add = vi.spyOn(IDBObjectStore.prototype, 'add');
    const server = fakeServer();
    server.setAccepting(false);
    const client = track(testClient(server));
    await Promise.all(Array.from({ length: 600 }, (_, i) => client.emit(topics.orderPlaced, order(`o-${i}`))));
    const writes = transaction.mock.calls.filter((call) => call[1] === 'readwrite');
    expect(writes).toHaveLength(1);
    expect(writes[0]![0]).toEqual(['chunks', 'marks']);
    expect(writes[0]![2]).toEqual({ durability: 'strict' });
    // 600 records in chunks of 250: three chunk values and their three marks.
    expect(add.mock.calls).toHaveLength(6);
    expect(client.status.pending).toBe(600);
  });

  it('rejects an invalid payload with INVALID_PAYLOAD and queues nothing', async () => {
    const server = fakeServer();
    const client = track(testClient(server));
    // @ts-expect-error total must be a number
    const bad = client.emit(topics.orderPlaced, { orderId: 'o-1', total: 'lots' });
    await expect(bad).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
    await settle();
    expect(client.status.pending).toBe(0);
    expect(server.emitPackets).toEqual([]);
  });

  it('refuses topics browsers may not emit, unknown topics, bad ids and oversized envelopes before queueing', async () => {
    const server = fakeServer();
    const client = track(testClient(server, { maxEnvelopeBytes: 2048 }));
    // Typed callers cannot even write these (not clientEmit); untyped ones are refused at runtime.
    // @ts-expect-error audit.log is not clientEmit
    await expect(client.emit(topics.audit, { msg: 'x' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    // @ts-expect-error a presentation topic is output only
    await expect(client.emit(topics.orderStatus, { orderId: 'o', status: 'paid' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const stranger = { ...topics.note, name: 'stranger.{n}', template: 'stranger.{n}' } as unknown as typeof topics.note;
    await expect(client.emit(stranger, { n: 1, text: '' })).rejects.toMatchObject({ code: 'UNKNOWN_TOPIC' });
    await expect(client.emit(topics.note, { n: 1, text: '' }, { id: 'not-a-uuid' })).rejects.toMatchObject({ code: 'MALFORMED' });
    await expect(client.emit(topics.note, { n: 1, text: 'x'.repeat(4096) })).rejects.toMatchObject({ code: 'TOO_LARGE' });
    await settle();
    expect(client.status.pending).toBe(0);
    expect(server.emitPackets).toEqual([]);
  });

  it('keeps the caller-given id and headers on the envelope', async () => {
    const server = fakeServer();
    const client = track(testClient(server));
    const id = uuidv7();
    const receipt = await client.emit(topics.note, { n: 1, text: 'hi' }, { id, headers: { tenant: 't1' } });
    expect(receipt.id).toBe(id);
    await receipt.delivered;
    expect(server.log[0]).toMatchObject({ id, headers: { tenant: 't1' }, subject: 'notes.1' });
  });
});

describe('group commit', () => {
  /** A memory store whose appends wait for the test to release them, recording each group. */
  function gatedStore() {
    const inner = createMemoryOutboxStore();
    const groups: string[][] = [];
    const gates: (() => void)[] = [];
    const store: OutboxStore = {
      ...inner,
      shared: false,
      async append(records: readonly OutboxRecord[]) {
        groups.push(records.map((r) => r.id));
        await new Promise<void>((r) => gates.push(r));
        await inner.append(records);
      },
    };
    return { store, groups, release: () => gates.shift()?.() };
  }

  it('writes a synchronous burst of emits in one transaction', async () => {
    const { store, groups, release } = gatedStore();
    const server = fakeServer();
    server.setAccepting(false);
    const client = track(testClient(server, { outbox: store }));
    const emits = Array.from({ length: 50 }, (_, i) => client.emit(topics.orderPlaced, order(`o-${i}`)));
    await until(() => groups.length === 1, 'first group');
    release();
    const receipts = await Promise.all(emits);
    expect(groups).toEqual([receipts.map((r) => r.id)]);
  });

  it('groups emits that arrive during a commit into the next one, each resolving only after its own commit', async () => {
    const { store, groups, release } = gatedStore();
    const server = fakeServer();
    server.setAccepting(false);
    const client = track(testClient(server, { outbox: store }));
    const resolved: string[] = [];
    const first = client.emit(topics.orderPlaced, order('a')).then((r) => (resolved.push('a'), r));
    await until(() => groups.length === 1, 'first group in flight');
    const later = ['b', 'c', 'd'].map((id) => client.emit(topics.orderPlaced, order(id)).then((r) => (resolved.push(id), r)));
    await settle();
    expect(resolved).toEqual([]);
    release();
    await first;
    await until(() => groups.length === 2, 'second group');
    await settle();
    expect(resolved).toEqual(['a']);
    expect(groups[1]).toHaveLength(3);
    release();
    await Promise.all(later);
    expect(resolved).toEqual(['a', 'b', 'c', 'd']);
  });
});

describe('reload', () => {
  it('entries queued before a close drain from a new client on the same database, each id once, in order', async () => {
    const server = fakeServer();
    server.setAccepting(false);
    const indexedDB = new IDBFactory();
    const name = `db-${uuidv7()}`;
    const first = testClient(server, { indexedDB, name });
    const receipts = [];
    for (let i = 0; i < 7; i++) receipts.push(await first.emit(topics.orderPlaced, order(`o-${i}`)));
    await until(() => first.status.pending === 7, 'pending 7');
    await first.close();
    // The closed client's receipts cannot observe the later delivery.
    await expect(receipts[0]!.delivered).rejects.toMatchObject({ code: 'CLOSED' });

    server.setAccepting(true);
    const second = track(testClient(server, { indexedDB, name }));
    await until(() => server.ids.length === 7 && second.status.pending === 0, 'drained after reload');
    expect(server.ids).toEqual(receipts.map((r) => r.id));
    expect(server.emitPackets.flatMap((p) => p.ids)).toEqual(receipts.map((r) => r.id));
  });

  it('close writes emits already called, then refuses new ones with CLOSED; close is idempotent', async () => {
    const server = fakeServer();
    server.setAccepting(false);
    const indexedDB = new IDBFactory();
    const name = `db-${uuidv7()}`;
    const client = testClient(server, { indexedDB, name });
    const pending = [client.emit(topics.note, { n: 1, text: 'a' }), client.emit(topics.note, { n: 2, text: 'b' })];
    const closing = client.close();
    expect(client.close()).toBe(closing);
    await closing;
    const ids = (await Promise.all(pending)).map((r) => r.id);
    await expect(client.emit(topics.note, { n: 3, text: 'c' })).rejects.toMatchObject({ code: 'CLOSED' });
    server.setAccepting(true);
    const next = track(testClient(server, { indexedDB, name }));
    await until(() => server.ids.length === 2 && next.status.pending === 0, 'drained');
    expect(server.ids).toEqual(ids);
  });
});

describe('draining', () => {
  it('sends many emits in few packets of at most maxEmitBatch, in order', async () => {
    const server = fakeServer();
    server.setAccepting(false);
    const client = track(testClient(server));
    const receipts = await Promise.all(Array.from({ length: 250 }, (_, i) => client.emit(topics.note, { n: i, text: `#${i}` })));
    server.setAccepting(true);
    await Promise.all(receipts.map((r) => r.delivered));
    const sizes = server.emitPackets.map((p) => p.ids.length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(PROTOCOL_LIMITS.maxEmitBatch);
    expect(sizes).toEqual([100, 100, 50]);
    expect(server.ids).toEqual(receipts.map((r) => r.id));
  });

  it('moves a rejected entry to the rejected list and rejects its delivered with the code; later entries are delivered', async () => {
    const server = fakeServer({
      reject: (env) => ((env.payload as { orderId?: string }).orderId === 'bad' ? { code: 'FORBIDDEN', message: 'not yours' } : undefined),
    });
    const client = track(testClient(server));
    const [a, bad, c] = [
      await client.emit(topics.orderPlaced, order('a')),
      await client.emit(topics.orderPlaced, order('bad')),
      await client.emit(topics.orderPlaced, order('c')),
    ];
    await expect(bad!.delivered).rejects.toSatisfy((e: unknown) => e instanceof FeteError && e.code === 'FORBIDDEN');
    await expect(a!.delivered).resolves.toMatchObject({ duplicate: false });
    await expect(c!.delivered).resolves.toMatchObject({ duplicate: false });
    expect(server.ids).toEqual([a!.id, c!.id]);
    const rejected = await client.outbox.rejected();
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatchObject({ id: bad!.id, topic: 'orders.{orderId}.placed', error: { code: 'FORBIDDEN' } });
    expect(rejected[0]!.envelope?.payload).toEqual(order('bad'));
    expect(client.status.lastError?.code).toBe('FORBIDDEN');
    await until(() => client.status.pending === 0, 'pending 0');
    await client.outbox.discardRejected([bad!.id]);
    expect(await client.outbox.rejected()).toEqual([]);
  });

  it('retries a batch the server failed with backoff, losing and reordering nothing', async () => {
    const server = fakeServer();
    server.failNextBatch({ code: 'STORE_UNAVAILABLE', message: 'db down' });
    server.failNextBatch({ code: 'INTERNAL', message: 'oops' });
    const client = track(testClient(server));
    const receipts = await Promise.all([1, 2, 3].map((n) => client.emit(topics.note, { n, text: '' })));
    await Promise.all(receipts.map((r) => r.delivered));
    expect(server.ids).toEqual(receipts.map((r) => r.id));
    expect(server.emitPackets.length).toBeGreaterThanOrEqual(3);
    expect(await client.outbox.rejected()).toEqual([]);
  });

  it('keeps an entry the server failed transiently, and all after it, queued and resends them in order', async () => {
    const server = fakeServer();
    server.failNextItem(1, { code: 'STORE_UNAVAILABLE', message: 'serialization failure' });
    const client = track(testClient(server));
    const receipts = await Promise.all([1, 2, 3, 4].map((n) => client.emit(topics.note, { n, text: '' })));
    const delivered = await Promise.all(receipts.map((r) => r.delivered));
    expect(server.ids).toEqual(receipts.map((r) => r.id));
    expect(delivered.map((d) => d.seq)).toEqual([1, 2, 3, 4]);
    expect(server.emitPackets.map((p) => p.ids)).toEqual([receipts.map((r) => r.id), receipts.slice(1).map((r) => r.id)]);
  });

  it('isolates an envelope the server refuses as a whole batch, rejects it alone, and delivers the rest', async () => {
    const server = fakeServer();
    const client = track(testClient(server));
    server.setAccepting(false);
    const receipts = await Promise.all([1, 2, 3, 4, 5].map((n) => client.emit(topics.note, { n, text: '' })));
    // The packet with envelope 3 in it is refused whole until 3 is sent alone.
    const poison = receipts[2]!.id;
    const original = server.handleEmit.bind(server);
    vi.spyOn(server, 'handleEmit').mockImplementation((conn, packet, ack) => {
      const ids = packet.map((t) => JSON.parse(t).json.id as string);
      if (ids.includes(poison)) {
        server.emitPackets.push({ from: 'A', ids });
        return ack({ ok: false, error: { code: 'TOO_LARGE', message: 'packet too large' } });
      }
      original(conn, packet, ack);
    });
    server.setAccepting(true);
    await expect(receipts[2]!.delivered).rejects.toMatchObject({ code: 'TOO_LARGE' });
    await Promise.all([0, 1, 3, 4].map((i) => receipts[i]!.delivered));
    expect(server.ids).toEqual([0, 1, 3, 4].map((i) => receipts[i]!.id));
    expect((await client.outbox.rejected()).map((r) => r.id)).toEqual([poison]);
  });

  it('resends after a lost ack, and delivered resolves as a duplicate with the original seq', async () => {
    const server = fakeServer();
    server.loseNextAck();
    const client = track(testClient(server));
    const receipt = await client.emit(topics.note, { n: 1, text: '' });
    await expect(receipt.delivered).resolves.toEqual({ id: receipt.id, seq: 1, duplicate: true });
    expect(server.ids).toEqual([receipt.id]);
    expect(server.emitPackets).toHaveLength(2);
  });

  it('resolves delivered with duplicate: true when the server already had the id', async () => {
    const server = fakeServer();
    const client = track(testClient(server));
    const id = uuidv7();
    const first = await client.emit(topics.note, { n: 1, text: '' }, { id });
    await first.delivered;
    const again = await client.emit(topics.note, { n: 1, text: '' }, { id });
    await expect(again.delivered).resolves.toEqual({ id, seq: 1, duplicate: true });
    expect(server.ids).toEqual([id]);
  });

  it('does not send while disconnected, and drains once connected again', async () => {
    const server = fakeServer();
    const client = track(testClient(server));
    await until(() => client.status.connected, 'connected');
    server.setAccepting(false);
    server.dropAll();
    await until(() => !client.status.connected, 'disconnected');
    const receipt = await client.emit(topics.note, { n: 1, text: '' });
    await settle();
    expect(server.emitPackets).toEqual([]);
    expect(client.status.pending).toBe(1);
    server.setAccepting(true);
    await receipt.delivered;
    expect(server.ids).toEqual([receipt.id]);
  });
});

describe('quota and storage failures', () => {
  function quotaStore() {
    const inner = createMemoryOutboxStore();
    const state = { full: true };
    const store: OutboxStore = {
      ...inner,
      shared: false,
      async append(records) {
        if (state.full) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
        await inner.append(records);
      },
    };
    return { store, state };
  }

  it('rejects emit with QUOTA_EXCEEDED, reports it in the status, and queues nothing', async () => {
    const { store, state } = quotaStore();
    const server = fakeServer();
    const client = track(testClient(server, { outbox: store }));
    const errors: string[] = [];
    client.on('error', (e) => errors.push(e.code));
    const failed = client.emit(topics.note, { n: 1, text: '' });
    await expect(failed).rejects.toSatisfy((e: unknown) => e instanceof FeteError && e.code === 'QUOTA_EXCEEDED' && e.cause instanceof DOMException);
    expect(client.status.lastError?.code).toBe('QUOTA_EXCEEDED');
    expect(errors).toContain('QUOTA_EXCEEDED');
    expect(client.status.pending).toBe(0);
    state.full = false;
    const ok = await client.emit(topics.note, { n: 2, text: '' });
    await ok.delivered;
    expect(server.log.map((e) => (e.payload as { n: number }).n)).toEqual([2]);
  });

  it('rejects emits with STORE_UNAVAILABLE when the outbox database cannot be opened', async () => {
    const server = fakeServer();
    const broken = { open: () => { throw new DOMException('denied', 'SecurityError'); } } as unknown as IDBFactory;
    const client = track(testClient(server, { indexedDB: broken }));
    await expect(client.emit(topics.note, { n: 1, text: '' })).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(client.status.lastError?.code).toBe('STORE_UNAVAILABLE');
  });
});

describe("outbox: 'memory'", () => {
  it('delivers like IndexedDB, leads at once, and keeps nothing across clients', async () => {
    const server = fakeServer();
    server.setAccepting(false);
    const client = testClient(server, { outbox: 'memory' });
    await until(() => client.status.leader, 'leader');
    await client.emit(topics.note, { n: 1, text: '' });
    expect(client.status.pending).toBe(1);
    await client.close();
    server.setAccepting(true);
    const next = track(testClient(server, { outbox: 'memory' }));
    await until(() => next.status.connected, 'connected');
    await settle();
    expect(server.ids).toEqual([]);
    const receipt = await next.emit(topics.note, { n: 2, text: '' });
    await expect(receipt.delivered).resolves.toMatchObject({ seq: 1 });
  });

  it("refuses outbox: 'indexeddb' where there is no IndexedDB, naming the memory option", () => {
    const server = fakeServer();
    const saved = globalThis.indexedDB;
    // @ts-expect-error simulate an environment without IndexedDB
    delete globalThis.indexedDB;
    try {
        expect(() => testClient(server, { indexedDB: undefined })).toThrow(/outbox: 'memory'/);
    } finally {
      globalThis.indexedDB = saved;
    }
  });
});

describe('status', () => {
  it('reports connected, leader and pending, and notifies listeners until they unsubscribe', async () => {
    const server = fakeServer();
    server.setAccepting(false);
    const client = track(testClient(server));
    const seen: { connected: boolean; pending: number }[] = [];
    const off = client.on('status', (s) => seen.push({ connected: s.connected, pending: s.pending }));
    await until(() => client.status.leader, 'leader');
    await client.emit(topics.note, { n: 1, text: '' });
    await until(() => client.status.pending === 1, 'pending 1');
    server.setAccepting(true);
    await until(() => client.status.connected && client.status.pending === 0, 'connected and drained');
    expect(seen.at(-1)).toEqual({ connected: true, pending: 0 });
    expect(seen.some((s) => s.pending === 1)).toBe(true);
    off();
    const count = seen.length;
    server.dropAll();
    await settle();
    expect(seen).toHaveLength(count);
  });
});

describe('outbox.clear (sign-out)', () => {
  it('drops every queued entry, of this and other clients of the outbox, so none is sent after the next sign-in; their receipts reject ABORTED', async () => {
    const server = fakeServer();
    server.setAccepting(false); // offline: everything stays queued
    const indexedDB = new IDBFactory();
    const name = `db-${uuidv7()}`;
    const bob = track(testClient(server, { indexedDB, name, label: 'bob' }));
    const otherTab = track(testClient(server, { indexedDB, name, label: 'bob, another tab' }));
    const mine = await Promise.all([0, 1, 2].map((i) => bob.emit(topics.orderPlaced, order(`b-${i}`))));
    const theirs = await otherTab.emit(topics.orderPlaced, order('b-tab'));
    expect(await bob.outbox.clear()).toEqual({ emits: 4, commands: 0 });
    for (const r of mine) await expect(r.delivered).rejects.toMatchObject({ code: 'ABORTED', details: { id: r.id } });
    // The other tab hears of it over the tab channel.
    await expect(theirs.delivered).rejects.toMatchObject({ code: 'ABORTED' });
    expect(bob.status.pending).toBe(0);
    await bob.close();
    await otherTab.close();

    // The next user signs in on the same profile: only their own emit goes out.
    server.setAccepting(true);
    const carol = track(testClient(server, { indexedDB, name, label: 'carol' }));
    const hers = await carol.emit(topics.orderPlaced, order('c-1'));
    await expect(hers.delivered).resolves.toMatchObject({ id: hers.id, duplicate: false });
    await settle();
    expect(server.ids).toEqual([hers.id]);
  });

  // Found by probe2: clear() emptied the queue only, and the next user of the profile read the
  // previous user's rejected emits, payloads included. It now drops the rejected and result records
  // in the same transaction.
  it('leaves nothing of the previous user readable: their rejected emits are gone after it', async () => {
    const server = fakeServer({
      reject: (env) => ((env.payload as { orderId?: string }).orderId === 'secret' ? { code: 'FORBIDDEN', message: 'not yours' } : undefined),
    });
    const indexedDB = new IDBFactory();
    const name = `db-${uuidv7()}`;
    const bob = track(testClient(server, { indexedDB, name, label: 'bob' }));
    const bad = await bob.emit(topics.orderPlaced, order('secret', 99));
    await expect(bad.delivered).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await bob.outbox.clear();
    await bob.close();

    const carol = track(testClient(server, { indexedDB, name, label: 'carol' }));
    expect(await carol.outbox.rejected()).toEqual([]);
  });

  it('writes emits called before it, then drops them too; later emits are queued and sent as usual', async () => {
    const server = fakeServer();
    server.setAccepting(false);
    const client = track(testClient(server));
    const before = client.emit(topics.orderPlaced, order('a'));
    const cleared = client.outbox.clear();
    expect(await cleared).toEqual({ emits: 1, commands: 0 });
    await expect((await before).delivered).rejects.toMatchObject({ code: 'ABORTED' });
    const after = await client.emit(topics.orderPlaced, order('b'));
    server.setAccepting(true);
    await expect(after.delivered).resolves.toMatchObject({ id: after.id });
    expect(server.ids).toEqual([after.id]);
  });
});

describe('outcomes an older client stored', () => {
  // Before emit answers had a version, a leader tab recorded `{ status, seq: 0 }` for the entries of
  // a volatile or latest topic (in IndexedDB and on the tab channel). A tab of this version that
  // reads such a record (its leader is still an older page, or it emits an id again after a
  // reload) resolves the receipt without a seq: 0 is no position of the log, never handed on.
  it('a recorded seq 0 for a latest or volatile entry resolves its receipt without a seq', async () => {
    const { createClient } = await import('../../client/index.js');
    const { openIdbOutboxStore } = await import('../../client/idb-outbox-store.js');
    const { defineTopic, defineTopics } = await import('../../shared/index.js');
    const { z } = await import('zod');
    const live = defineTopics({
      quote: defineTopic('quotes.{symbol}', { kind: 'domain', delivery: 'latest', clientEmit: true, expose: true, schema: z.object({ symbol: z.string(), price: z.number() }) }),
      typing: defineTopic('rooms.{room}.typing', { kind: 'domain', delivery: 'volatile', clientEmit: true, expose: true, schema: z.object({ room: z.string() }) }),
    });
    const server = fakeServer();
    server.setAccepting(false); // this tab never sends: the outcome comes from the store
    const indexedDB = new IDBFactory();
    const name = `db-${uuidv7()}`;
    const client = createClient({ url: 'http://fete.test', topics: live, indexedDB, name, transport: server.transport, locks: null, pollIntervalMs: 25 });
    try {
      const quote = await client.emit(live.quote, { symbol: 'A', price: 1 });
      const typing = await client.emit(live.typing, { room: 'r' });
      const older = await openIdbOutboxStore(indexedDB, `fete-outbox:${name}`); // the client's database
      await older.settle({
        keys: [],
        rejected: [],
        results: [
          { id: quote.id, outcome: { status: 'accepted', seq: 0 }, at: Date.now() },
          { id: typing.id, outcome: { status: 'duplicate', seq: 0 }, at: Date.now() },
        ],
      });
      older.close();
      expect(await quote.delivered).toEqual({ id: quote.id, duplicate: false });
      expect(await typing.delivered).toEqual({ id: typing.id, duplicate: true });
    } finally {
      await client.close();
    }
  });
});
