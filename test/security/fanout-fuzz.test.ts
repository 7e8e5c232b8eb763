// Hostile input to the fanout: random packets of every shape on the protocol's events and on
// unknown ones, with and without acks, raw Engine.IO frames and frames over the size limit. The
// server stays up, answers what it must answer, and keeps serving a bystander socket throughout.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEnvelope, encodeEnvelope } from '../../shared/index.js';
import { RawClient, sharePGlite, startServer, topics, until, type TestServer } from '../realtime/support.js';

sharePGlite();
let s: TestServer;
let bystander: RawClient;
const raws: RawClient[] = [];
beforeAll(async () => {
  s = await startServer({ authorize: { emit: () => true, subscribe: () => true }, maxPayloadBytes: 16 * 1024 });
  bystander = new RawClient(s.url);
  raws.push(bystander);
  await bystander.connected();
  expect(await bystander.sub('b', 'ticks.*')).toMatchObject({ ok: true });
});
afterAll(async () => {
  for (const c of raws) c.close();
  await s?.close();
});

let ticks = 0;
/** The bystander still gets live events: one more tick arrives. */
async function bystanderServed(): Promise<void> {
  const before = bystander.seqs('b').length;
  await s.fete.emit(topics.tick, { n: ticks++ });
  await until(() => bystander.seqs('b').length > before, 'bystander served');
}

const valid = encodeEnvelope(createEnvelope(topics.orderPlaced, { orderId: 'o1', total: 1 }));
const anyValue = fc.oneof(
  fc.anything({ maxDepth: 3 }),
  fc.string(),
  fc.constant(valid),
  // A valid envelope with a random edit: most fail decoding or validation, some pass.
  fc.tuple(fc.nat(valid.length), fc.string({ maxLength: 8 })).map(([i, t]) => valid.slice(0, i) + t + valid.slice(i + 1)),
);
const packetArb = fc.oneof(
  fc.record({ sid: fc.oneof(fc.string({ maxLength: 70 }), fc.anything({ maxDepth: 1 })), pattern: fc.oneof(fc.string(), fc.constantFrom('>', 'a.*', 'a.>.b', 'orders.>', 'audit.log', 'ticks.*'), fc.anything({ maxDepth: 1 })), from: fc.oneof(fc.constantFrom('latest', 'earliest', 0, -1, 1e300, 3.5), fc.anything({ maxDepth: 1 })) }, { requiredKeys: [] }),
  fc.array(anyValue, { maxLength: 5 }),
  anyValue,
);
type Sent = { event: string; packet: unknown; ack: boolean };
const sentArb: fc.Arbitrary<Sent> = fc.record({
  // Socket.IO refuses to emit its reserved names ('disconnecting'...) from a client: not sent.
  event: fc.constantFrom('sub', 'unsub', 'emit', 'ev', 'gap', 'nonsense'),
  packet: packetArb,
  ack: fc.boolean(),
});

describe('garbage on the wire', () => {
  it('random packets (5,000, in batches of 100) leave the server up, answer every sub and emit, and a bystander is served after every batch', async () => {
    const c = new RawClient(s.url);
    raws.push(c);
    await c.connected();
    let answered = 0;
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(sentArb, { minLength: 100, maxLength: 100 }), async (batch) => {
        const waits: Promise<unknown>[] = [];
        for (const { event, packet, ack } of batch) {
          sent++;
          if (ack && (event === 'sub' || event === 'emit' || event === 'unsub')) {
            waits.push(c.socket.timeout(20_000).emitWithAck(event, packet).then((r: unknown) => {
              answered++;
              expect(r).toHaveProperty('ok');
            }));
          } else c.socket.emit(event, packet);
        }
        await Promise.all(waits);
        expect(c.socket.connected).toBe(true);
        await bystanderServed();
      }),
      { numRuns: 50 },
    );
    expect(sent).toBe(5000);
    expect(answered).toBeGreaterThan(100);
    await bystanderServed();
  }, 300_000);

  it('raw Engine.IO frames that are not valid Socket.IO packets close only their own connection', async () => {
    const frames = fc.sample(fc.oneof(fc.string(), fc.constantFrom('42/fete,', '42/fete,[', '42/fete,{"a":1}', '4', '49/fete,[]', '43/fete,1[]', '42/fete,["sub"', '41/fete,', '40/nope,')), { numRuns: 200, seed: 7 });
    for (let i = 0; i < frames.length; i += 50) {
      const c = new RawClient(s.url);
      raws.push(c);
      await c.connected();
      const engine = (c.socket.io as unknown as { engine: { send(data: string): void } }).engine;
      for (const f of frames.slice(i, i + 50)) engine.send(f);
      // Either still connected (the frames were ignored) or closed by the server: never a crash.
      await c.socket.timeout(5000).emitWithAck('sub', { sid: 'x', pattern: '>', from: 'latest' }).catch(() => undefined);
      c.close();
    }
    await bystanderServed();
  }, 60_000);

  it('a frame over the size limit closes that connection only', async () => {
    const c = new RawClient(s.url);
    raws.push(c);
    await c.connected();
    const closed = new Promise<string>((r) => c.socket.once('disconnect', (reason) => r(reason)));
    c.socket.emit('emit', ['x'.repeat(200 * 1024)]);
    expect(await closed).toBe('transport close');
    await bystanderServed();
    // An envelope over maxPayloadBytes but within the frame limit is rejected per item.
    const d = new RawClient(s.url);
    raws.push(d);
    await d.connected();
    const big = encodeEnvelope(createEnvelope(topics.tenantMsg, { tenant: 't1', room: 'r', text: 'x'.repeat(20 * 1024) }));
    const ack = await d.emit([big]);
    expect(ack).toMatchObject({ ok: true, results: [{ status: 'rejected', error: { code: 'TOO_LARGE' } }] });
  });
});
