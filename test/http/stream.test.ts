// GET /stream: Server-Sent Events of a pattern, live and replayed, resumed after a disconnect with
// Last-Event-ID exactly once and in order; bad requests are answered before the stream starts.
import { describe, expect, it } from 'vitest';
import { decodeEnvelope } from '../../shared/index.js';
import { waitFor } from '../support/wait.js';
import { openStream, seqOf, startServer, testAuth, topics } from './http-harness.js';

const order = (n: number) => ({ orderId: `o${n}`, total: n });

describe('GET /stream', () => {
  it('sends live events matching the pattern with id = seq, event = topic and a superjson envelope', async () => {
    const { url, fete } = await startServer();
    const sse = await openStream(`${url}/stream?pattern=orders.*.created`);
    expect(sse.status).toBe(200);
    expect(sse.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect((await sse.nextRaw()).comments).toEqual([`ok cursor=${fete.log.epoch}:0`]);
    const at = new Date('2024-01-02T03:04:05Z');
    await fete.emit(topics.audit, { kind: 'k', msg: 'not matching' });
    const r1 = await fete.emit(topics.orderCreated, { ...order(1), at });
    const r2 = await fete.emit(topics.orderCreated, order(2));
    const [m1, m2] = await sse.take(2);
    expect([m1!.id, m2!.id]).toEqual([`${fete.log.epoch}:${r1.seq}`, `${fete.log.epoch}:${r2.seq}`]);
    expect(m1!.event).toBe('orders.{orderId}.created');
    const e = decodeEnvelope(m1!.data);
    expect(e).toMatchObject({ id: r1.id, seq: r1.seq, subject: 'orders.o1.created', payload: { orderId: 'o1', total: 1, at } });
  });

  it('replays from `from` (a seq, or earliest) before following live', async () => {
    const { url, fete } = await startServer();
    const seqs: number[] = [];
    for (let i = 1; i <= 5; i++) seqs.push((await fete.emit(topics.orderCreated, order(i))).seq);
    const fromThird = await openStream(`${url}/stream?pattern=orders.>&from=${seqs[2]}`);
    expect((await fromThird.take(2)).map((m) => seqOf(m))).toEqual(seqs.slice(3));
    const all = await openStream(`${url}/stream?pattern=orders.>&from=earliest`);
    expect((await all.take(5)).map((m) => seqOf(m))).toEqual(seqs);
    const live = (await fete.emit(topics.orderCreated, order(6))).seq;
    expect(seqOf(await all.next())).toBe(live);
    expect(seqOf(await fromThird.next())).toBe(live);
  });

  it('resumes with Last-Event-ID after a disconnect: the 500 missed events once each, in order, then live', async () => {
    const { url, fete } = await startServer({ metrics: 'public' });
    const first = await openStream(`${url}/stream?pattern=orders.>`);
    await first.nextRaw();
    for (let i = 0; i < 10; i++) await fete.emit(topics.orderCreated, order(i));
    const seen = (await first.take(10)).map((m) => seqOf(m));
    first.close();
    await waitFor(async () => (await (await fetch(`${url}/metrics`)).text()).includes('fete_http_streams 0'), { what: 'stream closed' });
    const missed = await fete.emitMany(Array.from({ length: 500 }, (_, i) => ({ topic: topics.orderCreated, payload: order(100 + i) })));
    // `from` is ignored when Last-Event-ID is present, as on an EventSource reconnect.
    const resumed = await openStream(`${url}/stream?pattern=orders.>&from=latest`, { 'last-event-id': String(seen.at(-1)) });
    const replayed = (await resumed.take(500)).map((m) => seqOf(m));
    expect(replayed).toEqual(missed.map((r) => r.seq));
    const live = await fete.emit(topics.orderCreated, order(9999));
    expect(seqOf(await resumed.next())).toBe(live.seq);
  });

  it('pages through a replay larger than one page without losing or repeating events', async () => {
    const { url, fete } = await startServer({ stream: { pageSize: 7, pollIntervalMs: 50 } });
    const results = await fete.emitMany(Array.from({ length: 50 }, (_, i) => ({ topic: topics.orderCreated, payload: order(i) })));
    const sse = await openStream(`${url}/stream?pattern=orders.>&from=earliest`);
    expect((await sse.take(50)).map((m) => seqOf(m))).toEqual(results.map((r) => r.seq));
  });

  it('waits for a slow client to drain instead of buffering, then delivers everything in order', async () => {
    const { url, fete } = await startServer({ metrics: 'public' });
    const sse = await openStream(`${url}/stream?pattern=audit.>`);
    await sse.nextRaw();
    // ~32 MB of events, far beyond what socket buffers hold, while the client reads nothing.
    const msg = 'x'.repeat(64 * 1024);
    const seqs: number[] = [];
    for (let b = 0; b < 5; b++) {
      const batch = Array.from({ length: 100 }, (_, i) => ({ topic: topics.audit, payload: { kind: 'bulk', msg: `${b * 100 + i}:${msg}` } }));
      seqs.push(...(await fete.emitMany(batch)).map((r) => r.seq));
    }
    await waitFor(async () => (await (await fetch(`${url}/metrics`)).text()).includes('\nfete_http_streams_waiting 1\n'), { what: 'backpressure' });
    const got = (await sse.take(500)).map((m) => seqOf(m));
    expect(got).toEqual(seqs);
    await waitFor(async () => (await (await fetch(`${url}/metrics`)).text()).includes('\nfete_http_streams_waiting 0\n'), { what: 'drained' });
  });

  it('sends heartbeat comments while idle', async () => {
    const { url } = await startServer({ stream: { heartbeatMs: 20, pollIntervalMs: 50 } });
    const sse = await openStream(`${url}/stream?pattern=>`);
    await sse.nextRaw();
    expect((await sse.nextRaw()).comments).toEqual(['ping']);
  });

  it('stops following the log when the client disconnects', async () => {
    const { url } = await startServer({ metrics: 'public' });
    const sse = await openStream(`${url}/stream?pattern=>`);
    await sse.nextRaw();
    expect(await (await fetch(`${url}/metrics`)).text()).toContain('fete_http_streams 1');
    sse.close();
    await waitFor(async () => (await (await fetch(`${url}/metrics`)).text()).includes('fete_http_streams 0'), { what: 'stream closed' });
  });

  it.each([
    ['an invalid pattern', '?pattern=orders.>.x', {}, 400, 'INVALID_PATTERN'],
    ['a missing pattern', '', {}, 400, 'INVALID_PATTERN'],
    ['a bad from', '?pattern=>&from=yesterday', {}, 400, 'MALFORMED'],
    ['a bad Last-Event-ID', '?pattern=>', { 'last-event-id': '-3' }, 400, 'MALFORMED'],
    ['a subscribe authorize denies', '?pattern=>', { 'x-user': 'eve' }, 403, 'FORBIDDEN'],
    ['a request auth refuses', '?pattern=>', { 'x-user': 'nobody' }, 401, 'UNAUTHORIZED'],
  ])('answers %s with a JSON error before streaming', async (_what, query, headers, status, code) => {
    const { url } = await startServer();
    const res = await fetch(`${url}/stream${query}`, { headers: headers as Record<string, string> });
    expect(res.status).toBe(status);
    expect(await res.json()).toEqual({ error: { code, message: expect.any(String) } });
  });
});
