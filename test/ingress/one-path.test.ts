// Issue 9, classes 1 and 4: every emit passes one admission path. A transforming schema runs once
// (emit takes its input, receivers get its output) on every door, and one payload fault gives one
// error code, never retryable, on fete.emit, emitMany, tx.emit, client.emit / receipt.delivered,
// a raw Socket.IO emit and POST /fete/emit. On PGlite and PostgreSQL.
import { describe, expect, test } from 'vitest';
import { FeteError, uuidv7, type Envelope } from '../../shared/index.js';
import { RawClient, until } from '../realtime/support.js';
import { browserClient, httpRefusal, lenientTopics, rawEnvelope, refusalOf, topics, useEngines, validations, type IngressServer, type Refusal } from './harness.js';

const engines = useEngines();

/** The refusal a raw Socket.IO emit of `text` gets (its ack item), with its retryable flag. */
async function socketRefusal(server: IngressServer, text: string): Promise<Refusal> {
  const raw = new RawClient(server.origin);
  try {
    await raw.connected();
    const ack = await raw.emit([text]);
    if (!ack.ok) return { code: ack.error.code, retryable: new FeteError(ack.error.code, '').retryable, message: ack.error.message };
    const item = ack.results[0]!;
    if (item.status !== 'rejected') throw new Error(`expected a refusal over Socket.IO, got ${item.status}`);
    return { code: item.error.code, retryable: new FeteError(item.error.code, '').retryable, message: item.error.message };
  } finally {
    raw.close();
  }
}

describe.each(engines)('on $name', (engine) => {
  test('a transforming schema takes its input on every door and every receiver gets its output: { qty: "3" } arrives as 3', async ({ skip }) => {
    if (engine.skipReason()) skip();
    const server = await engine.start();
    const { fete } = server;
    const heard: Array<{ orderId: string; qty: number }> = [];
    fete.on(topics.qty, 'qty-listener', (payload) => void heard.push(payload));
    await fete.start();
    const subscriber = new RawClient(server.origin);
    await subscriber.connected();
    expect(await subscriber.sub('s', 'orders.*.qty')).toMatchObject({ ok: true });

    await fete.emit(topics.qty, { orderId: 'emit', qty: '3' });
    await fete.emitMany([{ topic: topics.qty, payload: { orderId: 'many', qty: '3' } }]);
    await fete.transaction(async (tx) => tx.emit(topics.qty, { orderId: 'tx', qty: '3' }));
    const res = await fetch(`${server.url}/emit`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topic: topics.qty.name, payload: { orderId: 'http', qty: '3' } }),
    });
    expect(res.status).toBe(200);
    const client = browserClient(server.origin, topics);
    try {
      const receipt = await client.emit(topics.qty, { orderId: 'client', qty: '3' });
      await expect(receipt.delivered).resolves.toMatchObject({ duplicate: false });
    } finally {
      await client.close();
    }

    const doors = ['emit', 'many', 'tx', 'http', 'client'];
    await until(() => heard.length === doors.length && subscriber.seqs('s').length === doors.length, 'five deliveries to each receiver');
    expect(heard.map((p) => p.orderId).sort()).toEqual([...doors].sort());
    for (const p of heard) expect(p.qty).toBe(3);
    for (const e of subscriber.events.get('s')!) expect((e.payload as { qty: unknown }).qty).toBe(3);
    subscriber.close();
  });

  test('a constructor key is FORBIDDEN_KEY, not retryable, on fete.emit, emitMany, tx.emit, client.emit, Socket.IO and HTTP, even where the schema would strip it', async ({ skip }) => {
    if (engine.skipReason()) skip();
    const server = await engine.start();
    const { fete } = server;
    // zod strips unknown keys: without one admission path a server emit would accept this silently.
    const payload = { id: 'n-1', name: 'x', constructor: 1 } as unknown as { id: string; name: string };
    const head = await fete.log.head();
    const client = browserClient(server.origin, topics);
    const refusals: Refusal[] = [];
    try {
      refusals.push(await refusalOf(fete.emit(topics.named, payload)));
      refusals.push(await refusalOf(fete.emitMany([{ topic: topics.named, payload }])));
      refusals.push(await refusalOf(fete.transaction(async (tx) => tx.emit(topics.named, payload))));
      refusals.push(await refusalOf(client.emit(topics.named, payload)));
    } finally {
      await client.close();
    }
    refusals.push(await socketRefusal(server, rawEnvelope(topics.named.name, '{"id":"n-1","name":"x","constructor":1}')));
    const http = await httpRefusal(server.url, { topic: topics.named.name, payload: { id: 'n-1', name: 'x', constructor: 1 } });
    expect(http.status).toBe(400);
    refusals.push(http);
    for (const r of refusals) expect(r, r.message).toMatchObject({ code: 'FORBIDDEN_KEY', retryable: false });
    expect(await fete.log.head()).toBe(head);
  });

  test('a payload the schema refuses is INVALID_PAYLOAD, not retryable, on every door, and receipt.delivered rejects with it', async ({ skip }) => {
    if (engine.skipReason()) skip();
    const server = await engine.start();
    const { fete } = server;
    const bad = { id: 'n-2', name: 7 } as unknown as { id: string; name: string };
    const refusals: Refusal[] = [];
    refusals.push(await refusalOf(fete.emit(topics.named, bad)));
    refusals.push(await refusalOf(fete.emitMany([{ topic: topics.named, payload: bad }])));
    refusals.push(await refusalOf(fete.transaction(async (tx) => tx.emit(topics.named, bad))));
    refusals.push(await socketRefusal(server, rawEnvelope(topics.named.name, '{"id":"n-2","name":7}')));
    const http = await httpRefusal(server.url, { topic: topics.named.name, payload: bad });
    expect(http.status).toBe(400);
    refusals.push(http);
    // The browser's catalogue validates for early feedback...
    const strict = browserClient(server.origin, topics);
    try {
      refusals.push(await refusalOf(strict.emit(topics.named, bad)));
    } finally {
      await strict.close();
    }
    // ...and when it lets a payload through that the server refuses, the receipt says the same.
    const lenient = browserClient(server.origin, lenientTopics);
    try {
      const receipt = await lenient.emit(lenientTopics.named, { id: 'n-2', name: 7 });
      refusals.push(await refusalOf(receipt.delivered));
    } finally {
      await lenient.close();
    }
    for (const r of refusals) expect(r, r.message).toMatchObject({ code: 'INVALID_PAYLOAD', retryable: false });
  });

  test('a payload over the envelope limit is TOO_LARGE, not retryable, on every server door, client.emit and HTTP (413)', async ({ skip }) => {
    if (engine.skipReason()) skip();
    const server = await engine.start();
    const { fete } = server;
    const big = { id: 'n-3', name: 'x'.repeat(1024 * 1024 + 10) };
    const refusals: Refusal[] = [];
    refusals.push(await refusalOf(fete.emit(topics.named, big)));
    refusals.push(await refusalOf(fete.emitMany([{ topic: topics.named, payload: big }])));
    refusals.push(await refusalOf(fete.transaction(async (tx) => tx.emit(topics.named, big))));
    const client = browserClient(server.origin, topics);
    try {
      refusals.push(await refusalOf(client.emit(topics.named, big)));
    } finally {
      await client.close();
    }
    const http = await httpRefusal(server.url, { topic: topics.named.name, payload: big });
    expect(http.status).toBe(413);
    refusals.push(http);
    for (const r of refusals) expect(r, r.message).toMatchObject({ code: 'TOO_LARGE', retryable: false });
  });

  test('createFete({ maxEnvelopeBytes }) bounds server emits: past it TOO_LARGE, within it accepted', async ({ skip }) => {
    if (engine.skipReason()) skip();
    const { fete } = await engine.start({ maxEnvelopeBytes: 16 * 1024 });
    await expect(fete.emit(topics.anything, { text: 'z'.repeat(20 * 1024) })).rejects.toMatchObject({ code: 'TOO_LARGE', retryable: false });
    await expect(fete.emit(topics.anything, { text: 'z'.repeat(8 * 1024) })).resolves.toMatchObject({ duplicate: false });
  });

  test('a schema whose output grows past the limit is TOO_LARGE at emit, not an event receivers cannot decode', async ({ skip }) => {
    if (engine.skipReason()) skip();
    const server = await engine.start();
    // 600 KB of input, 1.2 MB of output: the input fits every limit, the event would not.
    const input = { id: 'n-4', name: 'y'.repeat(600 * 1024) };
    const grown = { ...input, name: input.name, copy: input.name };
    await expect(server.fete.emit(topics.anything, grown)).rejects.toMatchObject({ code: 'TOO_LARGE' });
  });

  test('a store failure stays STORE_UNAVAILABLE and retryable, unlike payload faults', async ({ skip }) => {
    if (engine.skipReason()) skip();
    const server = await engine.start();
    const { fete } = server;
    await fete.emit(topics.anything, { ok: 1 });
    // Break the store under fete: its events table is gone.
    await fete.transaction(async (tx) => void (await tx.query(`DROP TABLE "${server.schema}".events CASCADE`)));
    const r = await refusalOf(fete.emit(topics.anything, { ok: 2 }));
    expect(r).toMatchObject({ code: 'STORE_UNAVAILABLE', retryable: true });
  });

  test('the schema runs exactly once per emit on every door (server emit, Socket.IO, HTTP)', async ({ skip }) => {
    if (engine.skipReason()) skip();
    const server = await engine.start();
    const once = async (emit: () => Promise<unknown>) => {
      const before = validations.count;
      await emit();
      return validations.count - before;
    };
    expect(await once(() => server.fete.emit(topics.counted, { n: 1 }))).toBe(1);
    expect(await once(() => server.fete.transaction(async (tx) => tx.emit(topics.counted, { n: 2 })))).toBe(1);
    const raw = new RawClient(server.origin);
    await raw.connected();
    expect(await once(async () => expect(await raw.emit([rawEnvelope(topics.counted.name, '{"n":3}')])).toMatchObject({ ok: true, results: [{ status: 'accepted' }] }))).toBe(1);
    raw.close();
    const post = () => fetch(`${server.url}/emit`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic: topics.counted.name, payload: { n: 4 } }) });
    expect(await once(async () => expect((await post()).status).toBe(200))).toBe(1);
  });

  test('a raw Socket.IO emit of a transforming schema is stored as its output, not refused by a second validation', async ({ skip }) => {
    if (engine.skipReason()) skip();
    const server = await engine.start();
    const seen: Envelope[] = [];
    server.fete.log.onCommit((events) => void seen.push(...events));
    const id = uuidv7();
    const raw = new RawClient(server.origin);
    await raw.connected();
    const ack = await raw.emit([rawEnvelope(topics.qty.name, '{"orderId":"once","qty":"3"}', undefined, id)]);
    raw.close();
    expect(ack).toMatchObject({ ok: true, results: [{ id, status: 'accepted' }] });
    await until(() => seen.length === 1, 'the commit');
    expect(seen[0]!.payload).toEqual({ orderId: 'once', qty: 3 });
  });
});
