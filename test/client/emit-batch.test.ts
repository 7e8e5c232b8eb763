// Emit batches against a real fete server with a small envelope limit (so a small frame limit):
// every packet the client sends fits the server's Socket.IO frame, however large or escape-heavy
// the envelopes, and an entry too large for the server is sent alone and rejected with a code.
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type Client, type TransportFactory } from '../../client/index.js';
import { emitBatchBudget, serverFrameLimit, takeBatch, wireBytes } from '../../client/emit-batch.js';
import { frameLimit } from '../../server/fanout/attach.js';
import { FeteError, PROTOCOL_LIMITS, encodeEnvelope, uuidv7 } from '../../shared/index.js';
import { sharePGlite, startServer, topics, until, type TestServer, type Topics } from '../realtime/support.js';

sharePGlite();

const MAX = 4096;
const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close();
});

/** Records what reaches the server on `/fete`: connections, raw frame sizes, emit batches by id. */
function watch(server: TestServer) {
  const seen = { connections: 0, frameBytes: [] as number[], batches: [] as string[][] };
  server.fanout.io.of('/fete').on('connection', (socket) => {
    seen.connections++;
    socket.conn.on('packet', (p: { type: string; data?: unknown }) => {
      if (p.type === 'message' && typeof p.data === 'string') seen.frameBytes.push(Buffer.byteLength(p.data));
    });
    socket.use(([event, batch], next) => {
      if (event === 'emit' && Array.isArray(batch)) seen.batches.push(batch.map((e: string) => (JSON.parse(e) as { json: { id: string } }).json.id));
      next();
    });
  });
  return seen;
}

async function serve(): Promise<TestServer> {
  const server = await startServer({ maxPayloadBytes: MAX, authorize: { emit: () => true } });
  open.push(server);
  return server;
}

function client(options: Partial<Parameters<typeof createClient<Topics>>[0]> & { url: string }): Client<Topics> {
  const c = createClient({ topics, locks: null, retry: { initialDelayMs: 10, maxDelayMs: 100 }, pollIntervalMs: 50, ...options });
  open.push(c);
  return c;
}

/** A transport that never reaches a server: its client only writes to the outbox. */
const unreachable: TransportFactory = () => ({
  connected: false,
  open() {},
  sub: () => Promise.reject(new FeteError('NETWORK', 'unreachable')),
  unsub() {},
  emit: () => Promise.reject(new FeteError('NETWORK', 'unreachable')),
  close() {},
});

async function logIds(server: TestServer): Promise<string[]> {
  const { events } = await server.fete.log.read(0, { pattern: 'tenants.>', limit: 10_000 });
  return events.map((e) => e.id);
}

describe('emit batch size', () => {
  it("mirrors the server's frame limit", () => {
    for (const bytes of [1, MAX, 1024 * 1024]) expect(serverFrameLimit(bytes)).toBe(frameLimit(bytes));
  });

  it('takes at most the count limit, stops before the byte budget, and counts JSON escapes', () => {
    const small = Array.from({ length: 250 }, () => ({ e: 'x'.repeat(10) }));
    expect(takeBatch(small, 1e9)).toHaveLength(PROTOCOL_LIMITS.maxEmitBatch);
    // '"' and '\\' are escaped again inside the packet: 2 bytes each, plus 2 quotes and a comma.
    expect(wireBytes('a"b\\')).toBe(9);
    expect(wireBytes('é')).toBe(5); // 2 UTF-8 bytes, 2 quotes, a comma
    const quoted = Array.from({ length: 10 }, () => ({ e: '"'.repeat(100) }));
    // Each is 100 characters but 203 bytes on the wire: a budget of 500 holds two, not four.
    expect(takeBatch(quoted, 500)).toHaveLength(2);
  });

  it('sends a first entry over the budget alone, so the queue behind it still moves', () => {
    const records = [{ e: 'x'.repeat(1000) }, { e: 'y' }, { e: 'z' }];
    expect(takeBatch(records, 100)).toEqual([records[0]]);
    expect(takeBatch(records.slice(1), 100)).toEqual(records.slice(1));
  });

  it("keeps every packet within the server's frame limit: 100 escape-heavy envelopes arrive over one connection, once each, in order", async () => {
    const server = await serve();
    const seen = watch(server);
    const c = client({ url: server.url, indexedDB: new IDBFactory(), name: `db-${uuidv7()}`, maxEnvelopeBytes: MAX });
    // 1500 quotes: about 3.4 KB encoded (under the 4 KiB limit) but 6.4 KB on the wire, so the
    // 100 together are ~9x the 72 KiB frame: sent as one packet, the server would drop the socket.
    const text = '"'.repeat(1500);
    const receipts = await Promise.all(Array.from({ length: 100 }, (_, i) => c.emit(topics.tenantMsg, { tenant: 't', room: `r${i}`, text })));
    // Without the byte cap the socket is dropped and the same packet resent forever: nothing arrives.
    let acked = 0;
    for (const r of receipts) void r.delivered.then(() => acked++);
    await until(() => acked === 100, 'every emit acknowledged', 20_000);
    const delivered = await Promise.all(receipts.map((r) => r.delivered));
    const seqs = delivered.map((d) => d.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(100);
    expect(await logIds(server)).toEqual(receipts.map((r) => r.id));
    expect(seen.connections).toBe(1);
    expect(seen.batches.length).toBeGreaterThan(1);
    expect(seen.batches.flat()).toEqual(receipts.map((r) => r.id));
    expect(Math.max(...seen.frameBytes)).toBeLessThanOrEqual(frameLimit(MAX));
  });

  it('sends an entry too large for the server alone; it is rejected TOO_LARGE into the rejected list and the entries behind it arrive', async () => {
    const server = await serve();
    const seen = watch(server);
    const indexedDB = new IDBFactory();
    const name = `db-${uuidv7()}`;
    // Another tab with a larger envelope limit queued an entry over the server's: it must fit one
    // frame (so the server can answer for it) yet exceed the batch budget (so it goes alone).
    const writer = client({ url: server.url, indexedDB, name, maxEnvelopeBytes: 200_000, transport: unreachable });
    const bigText = 'b'.repeat(emitBatchBudget(MAX) - 200);
    const before = await writer.emit(topics.tenantMsg, { tenant: 't', room: 'before', text: 'x' });
    const big = await writer.emit(topics.tenantMsg, { tenant: 't', room: 'big', text: bigText });
    const after = await Promise.all([1, 2, 3].map((i) => writer.emit(topics.tenantMsg, { tenant: 't', room: `after${i}`, text: 'x' })));
    await writer.close();

    const bigWire = wireBytes(encodeEnvelope(big.envelope));
    expect(bigWire).toBeGreaterThan(emitBatchBudget(MAX));
    expect(bigWire).toBeLessThan(frameLimit(MAX) - 100);

    const drainer = client({ url: server.url, indexedDB, name, maxEnvelopeBytes: MAX });
    await until(async () => (await drainer.outbox.rejected()).length === 1 && drainer.status.pending === 0, 'drained', 20_000);
    const [rejected] = await drainer.outbox.rejected();
    expect(rejected).toMatchObject({ id: big.id, error: { code: 'TOO_LARGE' } });
    expect(rejected!.envelope?.payload).toMatchObject({ room: 'big' });
    expect(await logIds(server)).toEqual([before.id, ...after.map((r) => r.id)]);
    expect(seen.batches).toContainEqual([big.id]);
    expect(seen.connections).toBe(1);
  });
});
