// POST /emit: plain JSON, superjson and batch forms through the socket path's checks; every kind of
// bad input gets its 4xx and `{ error: { code, message } }`, and the server keeps serving.
import fc from 'fast-check';
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import { createEnvelope, encodeEnvelope, uuidv7 } from '../../shared/index.js';
import { postJson, startServer, testAuth, topics } from './http-harness.js';

describe('POST /emit', () => {
  it('accepts a plain JSON item and answers a repeat of its id as a duplicate with the same seq', async () => {
    const { url, fete } = await startServer();
    const id = uuidv7();
    const item = { topic: 'orders.{orderId}.created', payload: { orderId: 'o1', total: 5 }, id };
    const first = await postJson(`${url}/emit`, item);
    expect(first.status).toBe(200);
    const a = (await first.json()) as { results: Array<{ id: string; status: string; seq: number }> };
    expect(a.results).toEqual([{ id, status: 'accepted', seq: expect.any(Number) }]);
    const again = await postJson(`${url}/emit`, item);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ results: [{ id, status: 'duplicate', seq: a.results[0]!.seq }] });
    const { events } = await fete.log.read(0);
    expect(events.map((e) => [e.id, e.subject, e.headers.actor])).toEqual([[id, 'orders.o1.created', 'anonymous']]);
  });

  it('gives a server-made id to an item without one', async () => {
    const { url } = await startServer();
    const res = await postJson(`${url}/emit`, { topic: 'orders.{orderId}.created', payload: { orderId: 'o1', total: 5 } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { results: Array<{ id: string; status: string }> };
    expect(body.results[0]).toMatchObject({ status: 'accepted', id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
  });

  it('accepts superjson envelopes, as an object or as text, keeping Dates', async () => {
    const { url, fete } = await startServer();
    const at = new Date('2024-05-01T10:00:00Z');
    const e1 = createEnvelope(topics.orderCreated, { orderId: 'o1', total: 1, at });
    const e2 = createEnvelope(topics.orderCreated, { orderId: 'o2', total: 2, at });
    const res = await postJson(`${url}/emit`, [superjson.serialize(e1), encodeEnvelope(e2)]);
    expect(res.status).toBe(200);
    const { events } = await fete.log.read(0);
    expect(events.map((e) => (e.payload as { at: Date }).at)).toEqual([at, at]);
  });

  it('answers a batch with every item accepted with 200, and a mixed batch with 207 and per-item statuses in order', async () => {
    const { url } = await startServer();
    const ok = await postJson(`${url}/emit`, [
      { topic: 'orders.{orderId}.created', payload: { orderId: 'a', total: 1 } },
      { topic: 'orders.{orderId}.created', payload: { orderId: 'b', total: 2 } },
    ]);
    expect(ok.status).toBe(200);
    const id = uuidv7();
    const mixed = await postJson(`${url}/emit`, [
      { topic: 'orders.{orderId}.created', payload: { orderId: 'c', total: 3 }, id },
      { topic: 'orders.{orderId}.created', payload: { orderId: 'd', total: 'lots' } },
      { topic: 'nope.{x}', payload: { x: '1' } },
      'not an envelope',
      42,
      { topic: 'orders.{orderId}.created', payload: { orderId: 'c', total: 3 }, id },
    ]);
    expect(mixed.status).toBe(207);
    const body = (await mixed.json()) as { results: Array<{ id: string | null; status: string; error?: { code: string } }> };
    expect(body.results.map((r) => r.status)).toEqual(['accepted', 'rejected', 'rejected', 'rejected', 'rejected', 'duplicate']);
    expect(body.results.map((r) => r.error?.code)).toEqual([undefined, 'INVALID_PAYLOAD', 'UNKNOWN_TOPIC', 'MALFORMED', 'MALFORMED', undefined]);
    expect(body.results[0]!.id).toBe(id);
  });

  it.each([
    ['an invalid payload', { topic: 'orders.{orderId}.created', payload: { orderId: 'o1', total: 'x' } }, {}, 400, 'INVALID_PAYLOAD'],
    ['an unknown topic', { topic: 'payments.{id}.made', payload: { id: '1' } }, {}, 404, 'UNKNOWN_TOPIC'],
    ['a presentation topic', { topic: 'orders.{orderId}.status', payload: { orderId: 'o1', status: 'x' } }, {}, 403, 'FORBIDDEN'],
    ['a topic not declared clientEmit', { topic: 'audit.{kind}', payload: { kind: 'k', msg: 'm' } }, {}, 403, 'FORBIDDEN'],
    ['an emit authorize.emit denies', { topic: 'orders.{orderId}.created', payload: { orderId: 'o1', total: 1 } }, { 'x-user': 'mallory' }, 403, 'FORBIDDEN'],
    ['a request auth refuses', { topic: 'orders.{orderId}.created', payload: { orderId: 'o1', total: 1 } }, { 'x-user': 'nobody' }, 401, 'UNAUTHORIZED'],
    ['an id that is not a UUID', { topic: 'orders.{orderId}.created', payload: { orderId: 'o1', total: 1 }, id: 'abc' }, {}, 400, 'MALFORMED'],
    ['a prototype key', '{"topic":"orders.{orderId}.created","payload":{"orderId":"o","total":1,"__proto__":{"x":1}}}', {}, 400, 'FORBIDDEN_KEY'],
    ['malformed JSON', '{"topic": "orders', {}, 400, 'MALFORMED'],
    ['an empty batch', [], {}, 400, 'MALFORMED'],
    ['a JSON number', '7', {}, 400, 'MALFORMED'],
  ])('answers %s with its status and code', async (_what, body, headers, status, code) => {
    const { url, fete } = await startServer();
    const res = await postJson(`${url}/emit`, body, headers as Record<string, string>);
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: { code: string } }).error).toEqual({ code, message: expect.any(String) });
    expect(await fete.log.head()).toBe(0);
  });

  it('denies every emit when no authorize.emit hook is given', async () => {
    const { url } = await startServer({ security: { auth: testAuth.auth! } });
    const res = await postJson(`${url}/emit`, { topic: 'orders.{orderId}.created', payload: { orderId: 'o1', total: 1 } });
    expect(res.status).toBe(403);
  });

  it('refuses a body that is not application/json with 415, so cross-site simple requests cannot emit', async () => {
    const { url } = await startServer();
    const res = await fetch(`${url}/emit`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ error: { code: 'MALFORMED' } });
  });

  it('refuses a body over maxBodyBytes with 413 and a batch over maxBatch with 413', async () => {
    const { url, fete } = await startServer({ maxBodyBytes: 1000, maxBatch: 2 });
    await fete.start(); // /health answers 503 'not started' before start()
    const big = await postJson(`${url}/emit`, { topic: 'orders.{orderId}.created', payload: { orderId: 'x'.repeat(2000), total: 1 } });
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ error: { code: 'TOO_LARGE' } });
    const item = { topic: 'orders.{orderId}.created', payload: { orderId: 'o', total: 1 } };
    const many = await postJson(`${url}/emit`, [item, item, item]);
    expect(many.status).toBe(413);
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
  });

  it('answers arbitrary garbage with a 4xx and never a 5xx, and keeps serving', async () => {
    const { url } = await startServer();
    const bodies = fc.oneof(
      fc.string(),
      fc.json(),
      fc.jsonValue().map((v) => JSON.stringify({ topic: 'orders.{orderId}.created', payload: v })),
      fc.jsonValue().map((v) => JSON.stringify({ json: v, meta: { values: v } })),
      fc.array(fc.jsonValue(), { maxLength: 5 }).map((v) => JSON.stringify(v)),
    );
    await fc.assert(
      fc.asyncProperty(bodies, async (body) => {
        const res = await postJson(`${url}/emit`, body);
        await res.text();
        expect(res.status === 200 || res.status === 207 || (res.status >= 400 && res.status < 500)).toBe(true);
      }),
      { numRuns: 150 },
    );
    const ok = await postJson(`${url}/emit`, { topic: 'orders.{orderId}.created', payload: { orderId: 'o', total: 1 } });
    expect(ok.status).toBe(200);
  });
});

describe('POST /emit of a latest-value or volatile topic', () => {
  /** A fete whose browsers may emit `prices.{symbol}` (latest), `rooms.{room}.typing` (volatile)
   * and `orders.{orderId}.noted` (log) over HTTP. */
  async function latestServer() {
    const { createFete } = await import('../../server/index.js');
    const { defineTopic, defineTopics } = await import('../../shared/index.js');
    const { z } = await import('zod');
    const live = defineTopics({
      price: defineTopic('prices.{symbol}', { kind: 'domain', expose: true, clientEmit: true, delivery: 'latest', schema: z.object({ symbol: z.string(), price: z.number() }) }),
      typing: defineTopic('rooms.{room}.typing', { kind: 'domain', expose: true, clientEmit: true, delivery: 'volatile', schema: z.object({ room: z.string() }) }),
      noted: defineTopic('orders.{orderId}.noted', { kind: 'domain', expose: true, clientEmit: true, schema: z.object({ orderId: z.string() }) }),
    });
    const fete = await createFete({ topics: live, store: 'memory', logger: false, security: { auth: 'anonymous', authorize: { emit: () => true } } });
    const { url } = await startServer({}, fete as unknown as Parameters<typeof startServer>[1]);
    return { fete, url };
  }
  const price = (n: number, id = uuidv7()) => ({ topic: 'prices.{symbol}', payload: { symbol: 'ACME', price: n }, id });

  // Found by probe2: the answer of a `latest` (or `volatile`) item was `{ id, status, seq: 0 }`: it
  // dropped the value's `version` (what a caller needs to order its own updates) and gave a `seq`
  // that is no position of the log (a caller that keeps the highest seq as its resume cursor went
  // back to the start). Each item now answers the position its topic's delivery gives.
  it('answers the value version and no log seq', async () => {
    const { url } = await latestServer();
    const id = uuidv7();
    const res = await postJson(`${url}/emit`, { topic: 'prices.{symbol}', payload: { symbol: 'ACME', price: 1 }, id });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ results: [{ id, status: 'accepted', version: 1 }] });
  });

  it('answers each item of a mixed batch by its delivery: a seq for the log, a version for latest, neither for volatile', async () => {
    const { fete, url } = await latestServer();
    const [a, b, c, d] = [uuidv7(), uuidv7(), uuidv7(), uuidv7()];
    const res = await postJson(`${url}/emit`, [
      { topic: 'orders.{orderId}.noted', payload: { orderId: 'o1' }, id: a },
      price(1, b),
      { topic: 'rooms.{room}.typing', payload: { room: 'r' }, id: c },
      price(2, d),
    ]);
    expect(res.status).toBe(200);
    const { events } = await fete.log.read(0);
    expect(await res.json()).toEqual({
      results: [
        { id: a, status: 'accepted', seq: events[0]!.seq },
        { id: b, status: 'accepted', version: 1 },
        { id: c, status: 'accepted' },
        { id: d, status: 'accepted', version: 2 },
      ],
    });
  });

  // A resend after a lost answer stores nothing, and answers what the first emit got: a log event
  // its seq, a latest value the version its id got (not the subject's newer one), a volatile one
  // nothing. Within one batch, a repeated id answers its first occurrence's version.
  it('answers a resent latest value as a duplicate with the version its id got', async () => {
    const { fete, url } = await latestServer();
    const first = price(1);
    await postJson(`${url}/emit`, first);
    await postJson(`${url}/emit`, price(2));
    const again = await postJson(`${url}/emit`, [first, price(3), { topic: 'rooms.{room}.typing', payload: { room: 'r' }, id: first.id }]);
    const body = (await again.json()) as { results: unknown[] };
    expect(body.results).toEqual([
      { id: first.id, status: 'duplicate', version: 1 },
      { id: expect.any(String), status: 'accepted', version: 3 },
      // The same id on a volatile topic: a resend of the id (ids are per tenant), not sent, and
      // a volatile event has no version.
      { id: first.id, status: 'duplicate' },
    ]);
    const twice = price(4);
    expect(((await (await postJson(`${url}/emit`, [twice, twice])).json()) as { results: unknown[] }).results).toEqual([
      { id: twice.id, status: 'accepted', version: 4 },
      { id: twice.id, status: 'duplicate', version: 4 },
    ]);
    const [value] = await fete.latest('prices.ACME');
    expect(value).toMatchObject({ payload: { price: 4 }, version: 4 });
  });

  // Found by probe2: a latest emit was a duplicate only when its id was the subject's current
  // value's, so a batch [A, B] resent after a lost ack put the older A back over B. The process now
  // remembers the live ids it published lately, as it does for volatile events (emit-route.ts).
  it('answers a resent batch as duplicates and keeps the newer value', async () => {
    const { fete, url } = await latestServer();
    const batch = [1, 2].map((price) => ({ topic: 'prices.{symbol}', payload: { symbol: 'ACME', price }, id: uuidv7() }));
    expect((await postJson(`${url}/emit`, batch)).status).toBe(200);
    const again = (await (await postJson(`${url}/emit`, batch)).json()) as { results: Array<{ status: string }> };
    expect(again.results.map((r) => r.status)).toEqual(['duplicate', 'duplicate']);
    const [value] = await fete.latest('prices.ACME');
    expect(value).toMatchObject({ payload: { price: 2 }, version: 2 });
  });
});

