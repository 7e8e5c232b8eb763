// Client subscriptions against the fake protocol server: delivery, resume from the cursor after a
// dropped connection (no loss, no duplicates, seq order), gaps, untrusted events, for-await,
// unsubscribe and refusals.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { Gap } from '../../client/index.js';
import { InvalidPatternError, createEnvelope, toWireEnvelope, type Envelope } from '../../shared/index.js';
import type { FakeFeteServer } from './support/fake-server.js';
import { closeAfterEach, fakeServer, settle, testClient, topics, until } from './support/helpers.js';

const track = closeAfterEach();

/** A client subscribed to `pattern`, recording the seq of each event its handler gets. */
async function recordSeqs(server: FakeFeteServer, pattern: string) {
  const client = track(testClient(server));
  const seqs: number[] = [];
  const sub = client.subscribe(pattern, (ev) => void seqs.push(ev.seq!));
  await sub.ready;
  return { client, seqs, sub };
}

/** Publishes the status of orders o-`from` to o-`to - 1`, one event each. */
function publishStatuses(server: FakeFeteServer, from: number, to: number): void {
  for (let i = from; i < to; i++) server.publish(topics.orderStatus, status(`o-${i}`));
}

const status = (orderId: string, s: 'placed' | 'paid' | 'shipped' = 'paid') => ({ orderId, status: s });

describe('subscribe', () => {
  it('hands the handler the events its pattern matches, in seq order', async () => {
    const server = fakeServer();
    const client = track(testClient(server));
    const got: Envelope[] = [];
    const sub = client.subscribe('orders.*.status', (ev) => {
      got.push(ev);
    });
    await sub.ready;
    server.publish(topics.orderStatus, status('o-1'));
    server.publish(topics.orderPlaced, { orderId: 'o-1', total: 3 });
    server.publish(topics.orderStatus, status('o-2', 'shipped'));
    await until(() => got.length === 2, 'two events');
    expect(got.map((e) => [e.seq, e.subject, e.payload])).toEqual([
      [1, 'orders.o-1.status', status('o-1')],
      [3, 'orders.o-2.status', status('o-2', 'shipped')],
    ]);
    expect(sub.cursor).toBe('fake:3');
  });

  it("replays the retained log with from: 'earliest', and starts after a seq with from: <seq>", async () => {
    const server = fakeServer();
    publishStatuses(server, 0, 5);
    const client = track(testClient(server));
    const all: number[] = [];
    const after3: number[] = [];
    client.subscribe('orders.>', (ev) => void all.push(ev.seq!), { from: 'earliest' });
    client.subscribe('orders.>', (ev) => void after3.push(ev.seq!), { from: 3 });
    await until(() => all.length === 5 && after3.length === 2, 'replays');
    expect(all).toEqual([1, 2, 3, 4, 5]);
    expect(after3).toEqual([4, 5]);
  });

  it('throws InvalidPatternError for a bad pattern, before anything is sent', () => {
    const server = fakeServer();
    const client = track(testClient(server));
    // The types refuse these literals too (CheckedPattern); the runtime check is for patterns typed as string.
    // @ts-expect-error invalid pattern: ">" may only be the last token
    expect(() => client.subscribe('orders.>.status', () => {})).toThrow(InvalidPatternError);
    // @ts-expect-error invalid pattern: a token is empty
    expect(() => client.subscribe('', () => {})).toThrow(InvalidPatternError);
    expect(server.subPackets).toEqual([]);
  });

  it('sends a subscription made while offline once connected', async () => {
    const server = fakeServer();
    server.setAccepting(false);
    const client = track(testClient(server));
    const got: number[] = [];
    const sub = client.subscribe('notes.*', (ev) => void got.push(ev.seq!));
    await settle();
    expect(server.subPackets).toEqual([]);
    server.setAccepting(true);
    await sub.ready;
    server.publish(topics.note, { n: 1, text: '' });
    await until(() => got.length === 1, 'event');
    expect(server.subPackets).toHaveLength(1);
  });
});

describe('resume', () => {
  it('after a dropped connection re-subscribes from the cursor and replays missed events once, in order', async () => {
    const server = fakeServer();
    const { seqs } = await recordSeqs(server, 'orders.>');
    publishStatuses(server, 0, 3);
    await until(() => seqs.length === 3, 'first three');
    server.setAccepting(false);
    server.dropAll();
    publishStatuses(server, 3, 7);
    server.publish(topics.note, { n: 1, text: 'not matching' });
    server.setAccepting(true);
    server.publish(topics.orderPlaced, { orderId: 'o-9', total: 1 });
    await until(() => seqs.length === 8, 'all eight');
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7, 9]);
    expect(server.subPackets.map((p) => p.from)).toEqual(['latest', 'fake:3']);
    expect(server.subPackets.map((p) => p.sid)).toEqual([server.subPackets[0]!.sid, server.subPackets[0]!.sid]);
    await settle();
    expect(seqs).toHaveLength(8);
  });

  it('drops events at or before the cursor that a server sends again', async () => {
    const server = fakeServer({ replayOverlap: 3 });
    const { seqs } = await recordSeqs(server, 'orders.>');
    publishStatuses(server, 0, 4);
    await until(() => seqs.length === 4, 'four');
    server.dropAll(); // reconnects at once; the sloppy server replays 2..4 again, then 5
    await until(() => server.subPackets.length === 2, 'resubscribed');
    server.publish(topics.orderStatus, status('o-5'));
    await until(() => seqs.length === 5, 'five');
    // A stray repeat of an old event, straight on the wire.
    const [, sid] = server.subscriptions()[0]!;
    server.sendRaw('ev', { sid, e: toWireEnvelope(server.log[1]!) });
    server.publish(topics.orderStatus, status('o-6'));
    await until(() => seqs.length === 6, 'six');
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('surfaces a gap to onGap and the client, then resumes after it', async () => {
    const server = fakeServer();
    const client = track(testClient(server));
    const seqs: number[] = [];
    const gaps: Gap[] = [];
    const clientGaps: Gap[] = [];
    client.on('gap', (g) => clientGaps.push(g));
    const sub = client.subscribe('orders.>', (ev) => void seqs.push(ev.seq!), { from: 'earliest', onGap: (g) => gaps.push(g) });
    await sub.ready;
    server.publish(topics.orderStatus, status('a'));
    server.publish(topics.orderStatus, status('b'));
    await until(() => seqs.length === 2, 'two');
    server.setAccepting(false);
    server.dropAll();
    for (const id of ['c', 'd', 'e', 'f']) server.publish(topics.orderStatus, status(id));
    server.prune(4); // retention dropped seqs 1..4
    server.setAccepting(true);
    await until(() => seqs.length === 4, 'four');
    expect(seqs).toEqual([1, 2, 5, 6]);
    expect(gaps).toEqual([{ pattern: 'orders.>', reason: 'pruned', after: 2, resumedAt: 4 }]);
    expect(clientGaps).toEqual(gaps);
    expect(sub.cursor).toBe('fake:6');
  });

  it('reports an overflow of a bounded buffer as a gap and goes on', async () => {
    const server = fakeServer();
    const client = track(testClient(server));
    let release!: () => void;
    const blocked = new Promise<void>((r) => (release = r));
    const seqs: number[] = [];
    const gaps: Gap[] = [];
    const sub = client.subscribe(
      'notes.*',
      async (ev) => {
        seqs.push(ev.seq!);
        if (ev.seq === 1) await blocked;
      },
      { bufferSize: 1, onGap: (g) => gaps.push(g) },
    );
    await sub.ready;
    server.publish(topics.note, { n: 1, text: '' });
    await until(() => seqs.length === 1, 'the handler is busy with the first');
    server.publish(topics.note, { n: 2, text: '' }); // buffered
    server.publish(topics.note, { n: 3, text: '' }); // the buffer is full
    await until(() => gaps.length === 1, 'overflow gap');
    release();
    await until(() => seqs.length === 2, 'the buffered one delivered');
    server.publish(topics.note, { n: 4, text: '' });
    await until(() => seqs.length === 3, 'three delivered');
    expect(seqs).toEqual([1, 2, 4]);
    expect(gaps).toEqual([{ pattern: 'notes.*', reason: 'overflow', after: 2, resumedAt: 3 }]);
  });

  it('never delivers an event twice or out of order, whatever the drops (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.constant('drop' as const), fc.constant('offline' as const), fc.nat({ max: 3 })), { minLength: 1, maxLength: 25 }),
        fc.boolean(),
        async (steps, overlap) => {
          const server = fakeServer({ replayOverlap: overlap ? 2 : 0 });
          const client = testClient(server, { outbox: 'memory' });
          try {
            const seqs: number[] = [];
            const sub = client.subscribe('orders.*.status', (ev) => void seqs.push(ev.seq!), { from: 'earliest' });
            for (const step of steps) {
              if (step === 'drop') server.dropAll();
              else if (step === 'offline') {
                server.setAccepting(false);
                server.dropAll();
              } else {
                server.setAccepting(true);
                for (let i = 0; i <= step; i++) server.publish(i % 2 ? topics.orderStatus : topics.orderPlaced, { orderId: `o${i}`, status: 'paid', total: 1 } as never);
              }
              await settle(1);
            }
            server.setAccepting(true);
            const expected = server.log.filter((e) => e.topic === 'orders.{orderId}.status').map((e) => e.seq!);
            await until(() => seqs.length >= expected.length, 'all delivered');
            await sub.ready;
            await settle(2);
            expect(seqs).toEqual(expected);
          } finally {
            await client.close();
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('evs packets', () => {
  it('delivers each event of an evs packet in order, skipping the ones already delivered', async () => {
    const server = fakeServer();
    const { seqs } = await recordSeqs(server, 'orders.>');
    publishStatuses(server, 0, 3);
    await until(() => seqs.length === 3, 'three');
    const [, sid] = server.subscriptions()[0]!;
    const next = { ...server.log[2]!, id: crypto.randomUUID(), seq: 4 };
    // 2 and 3 again (a repeat on the wire), then 4.
    server.sendRaw('evs', { sid, es: [server.log[1]!, server.log[2]!, next].map(toWireEnvelope) });
    await until(() => seqs.length === 4, 'four');
    expect(seqs).toEqual([1, 2, 3, 4]);
  });

  it('reports a malformed evs packet or element and keeps the rest of the packet', async () => {
    const server = fakeServer();
    const { client, seqs } = await recordSeqs(server, 'notes.*');
    const errors: string[] = [];
    client.on('error', (e) => errors.push(e.code));
    const [, sid] = server.subscriptions()[0]!;
    const good = toWireEnvelope({ ...createEnvelope(topics.note, { n: 1, text: '' }), seq: 7 });
    server.sendRaw('evs', { sid, es: 'not an array' });
    server.sendRaw('evs', { sid, es: ['not superjson', JSON.parse('{"json":{"__proto__":{}}}') as unknown, good] });
    await until(() => seqs.length === 1 && errors.length === 3, 'the good event and three reports');
    expect(errors).toEqual(['MALFORMED', 'MALFORMED', 'MALFORMED']);
    expect(seqs).toEqual([7]);
  });
});

describe('untrusted events', () => {
  it('skips and reports malformed events without breaking delivery', async () => {
    const server = fakeServer();
    const { client, seqs } = await recordSeqs(server, 'notes.*');
    const errors: string[] = [];
    client.on('error', (e) => errors.push(e.code));
    const [, sid] = server.subscriptions()[0]!;
    const noSeq = toWireEnvelope(createEnvelope(topics.note, { n: 1, text: '' }));
    const polluted = JSON.parse('{"json":{"__proto__":{"x":1}}}') as unknown;
    const foreign = toWireEnvelope({ ...createEnvelope(topics.note, { n: 1, text: '' }), topic: 'mystery.{x}', seq: 50 });
    const elsewhere = toWireEnvelope({ ...createEnvelope(topics.note, { n: 1, text: '' }), subject: 'audit.log', seq: 51 });
    for (const e of ['not superjson', polluted, noSeq, foreign, elsewhere]) server.sendRaw('ev', { sid, e });
    server.sendRaw('ev', 'not a packet');
    server.sendRaw('gap', { sid, reason: 'boredom' });
    await until(() => errors.length === 7, 'seven reports');
    expect(errors).toEqual(['MALFORMED', 'MALFORMED', 'MALFORMED', 'UNKNOWN_TOPIC', 'MALFORMED', 'MALFORMED', 'MALFORMED']);
    expect(client.status.lastError?.code).toBe('MALFORMED');
    server.publish(topics.note, { n: 2, text: '' }); // seq 1, but the cursor moved to 51 on skipped events
    server.dropAll();
    await until(() => server.subPackets.length === 2, 'resubscribed');
    expect(server.subPackets[1]!.from).toBe('fake:51');
    expect(seqs).toEqual([]);
  });

  it('reports a throwing handler and keeps delivering', async () => {
    const server = fakeServer();
    const client = track(testClient(server));
    const seqs: number[] = [];
    const sub = client.subscribe('notes.*', (ev) => {
      seqs.push(ev.seq!);
      if (ev.seq === 1) throw new Error('app bug');
    });
    await sub.ready;
    server.publish(topics.note, { n: 1, text: '' });
    server.publish(topics.note, { n: 2, text: '' });
    await until(() => seqs.length === 2, 'both');
    expect(client.status.lastError).toMatchObject({ code: 'INTERNAL', message: expect.stringContaining('app bug') });
  });
});

describe('for await, unsubscribe and refusal', () => {
  it('consumes events with for await, in order; leaving the loop unsubscribes', async () => {
    const server = fakeServer();
    const client = track(testClient(server));
    const sub = client.subscribe('orders.*.status');
    await sub.ready;
    publishStatuses(server, 0, 5);
    const got: string[] = [];
    for await (const ev of sub) {
      got.push(ev.payload.orderId);
      if (got.length === 3) break;
    }
    expect(got).toEqual(['o-0', 'o-1', 'o-2']);
    expect(sub.closed).toBe(true);
    await until(() => server.subscriptions().length === 0, 'unsub reached the server');
  });

  it('unsubscribe stops delivery at once and tells the server', async () => {
    const server = fakeServer();
    const client = track(testClient(server));
    const seqs: number[] = [];
    const sub = client.subscribe('notes.*', (ev) => void seqs.push(ev.seq!));
    await sub.ready;
    server.publish(topics.note, { n: 1, text: '' });
    sub.unsubscribe(); // the event above is still on its way
    sub.unsubscribe();
    server.publish(topics.note, { n: 2, text: '' });
    await until(() => server.subscriptions().length === 0, 'unsubscribed');
    await settle();
    expect(seqs).toEqual([]);
    expect(sub.closed).toBe(true);
  });

  it('a refused subscription rejects ready with the server error, ends for await with it, and is reported', async () => {
    const server = fakeServer({ refuseSubscribe: (p) => (p.startsWith('audit') ? { code: 'FORBIDDEN', message: 'no audit for you' } : undefined) });
    const client = track(testClient(server));
    // @ts-expect-error audit.> matches no exposed topic: it does not compile, and the server refuses it
    const sub = client.subscribe('audit.>');
    await expect(sub.ready).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(sub.closed).toBe(true);
    await expect(
      (async () => {
        for await (const ev of sub) void ev;
      })(),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(client.status.lastError?.code).toBe('FORBIDDEN');
  });

  it('close ends subscriptions: loops finish, ready rejects CLOSED, nothing more is delivered', async () => {
    const server = fakeServer();
    server.setAccepting(false);
    const client = testClient(server);
    const sub = client.subscribe('notes.*');
    const loop = (async () => {
      const got: unknown[] = [];
      for await (const ev of sub) got.push(ev);
      return got;
    })();
    await client.close();
    await expect(loop).resolves.toEqual([]);
    await expect(sub.ready).rejects.toMatchObject({ code: 'CLOSED' });
    expect(() => client.subscribe('notes.*')).toThrow(expect.objectContaining({ code: 'CLOSED' }));
  });

  it('await using unsubscribes at the end of the scope', async () => {
    const server = fakeServer();
    const client = track(testClient(server));
    {
      await using sub = client.subscribe('notes.*', () => {});
      await sub.ready;
      expect(server.subscriptions()).toHaveLength(1);
    }
    await until(() => server.subscriptions().length === 0, 'disposed');
  });
});
