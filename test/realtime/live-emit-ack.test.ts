// The answer to an emit of a volatile or latest topic, on the Socket.IO ack and the browser client's
// receipt, on every engine ('inline', PGlite, PostgreSQL): a latest value answers the version it got
// for its subject, a volatile event neither a version nor a seq, a log event its seq; no item of a
// live topic ever answers a seq (which would be no position of the log). A resend answers what its
// id got the first time, also through another process while the id is still the current value.
// (POST /emit: test/http/emit.test.ts.)
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEnvelope, defineCommand, defineTopic, defineTopics, encodeEnvelope, uuidv7 } from '../../shared/index.js';
import { postgresAvailability } from '../support/postgres.js';
import { liveHarness, tokenSecurity } from './live-harness.js';

const topics = defineTopics({
  quote: defineTopic('quotes.{symbol}', { kind: 'domain', delivery: 'latest', clientEmit: true, expose: true, schema: z.object({ symbol: z.string(), price: z.number() }) }),
  typing: defineTopic('rooms.{room}.typing', { kind: 'domain', delivery: 'volatile', clientEmit: true, expose: true, schema: z.object({ room: z.string() }) }),
  note: defineTopic('rooms.{room}.note', { kind: 'domain', clientEmit: true, expose: true, schema: z.object({ room: z.string(), text: z.string() }) }),
});

const availability = await postgresAvailability();
if (availability.skipReason) console.log(`live-emit-ack: PostgreSQL cases skipped: ${availability.skipReason}`);
const h = liveHarness(topics, { postgresUrl: availability.url, security: { ...tokenSecurity, authorize: { emit: () => true } }, schemaPrefix: 'liveack' });

const quote = (price: number, id = uuidv7()) => encodeEnvelope(createEnvelope(topics.quote, { symbol: 'ACME', price }, { id }));

describe.each(h.engines)('the emit answer of live topics (%s)', (engine) => {
  it('the socket ack answers a latest value its version, a volatile event neither, a log event its seq', async () => {
    const s = await h.serve(engine);
    const r = h.raw(s);
    await r.connected();
    const [note, q1, typing, q2] = [uuidv7(), uuidv7(), uuidv7(), uuidv7()];
    const ack = await r.emit([
      encodeEnvelope(createEnvelope(topics.note, { room: 'r', text: 'hi' }, { id: note })),
      quote(1, q1),
      encodeEnvelope(createEnvelope(topics.typing, { room: 'r' }, { id: typing })),
      quote(2, q2),
    ]);
    const { events } = await s.fete.log.read(0);
    expect(events.map((e) => e.id)).toEqual([note]);
    expect(ack).toEqual({
      ok: true,
      results: [
        { id: note, status: 'accepted', seq: events[0]!.seq },
        { id: q1, status: 'accepted', version: 1 },
        { id: typing, status: 'accepted' },
        { id: q2, status: 'accepted', version: 2 },
      ],
    });
  });

  it('the socket ack of a resent value is a duplicate with the version its id got, not the newer one', async () => {
    const s = await h.serve(engine);
    const r = h.raw(s);
    await r.connected();
    const id = uuidv7();
    expect(await r.emit([quote(1, id)])).toEqual({ ok: true, results: [{ id, status: 'accepted', version: 1 }] });
    await r.emit([quote(2)]);
    // The ack was lost: the outbox sends the same envelope again, after a newer value.
    expect(await r.emit([quote(1, id)])).toEqual({ ok: true, results: [{ id, status: 'duplicate', version: 1 }] });
    const [value] = await s.fete.latest('quotes.ACME');
    expect(value).toMatchObject({ version: 2, payload: { price: 2 } });
  });

  it('the client receipt resolves with the version of a latest value, without a seq; a volatile one with neither; a log one with its seq', async () => {
    const s = await h.serve(engine);
    const c = h.client(s);
    const first = await c.emit(topics.quote, { symbol: 'ACME', price: 1 });
    const second = await c.emit(topics.quote, { symbol: 'ACME', price: 2 });
    const typing = await c.emit(topics.typing, { room: 'r' });
    const note = await c.emit(topics.note, { room: 'r', text: 'hi' });
    expect(await first.delivered).toEqual({ id: first.id, duplicate: false, version: 1 });
    expect(await second.delivered).toEqual({ id: second.id, duplicate: false, version: 2 });
    expect(await typing.delivered).toEqual({ id: typing.id, duplicate: false });
    const noted = await note.delivered;
    const { events } = await s.fete.log.read(0);
    expect(noted).toEqual({ id: note.id, duplicate: false, seq: events[0]!.seq });
  });

  it('a value emitted again by the app with the same id resolves as a duplicate with its first version', async () => {
    const s = await h.serve(engine);
    const c = h.client(s);
    const id = uuidv7();
    await (await c.emit(topics.quote, { symbol: 'ACME', price: 1 }, { id })).delivered;
    await (await c.emit(topics.quote, { symbol: 'ACME', price: 2 })).delivered;
    const again = await c.emit(topics.quote, { symbol: 'ACME', price: 1 }, { id });
    expect(await again.delivered).toEqual({ id, duplicate: true, version: 1 });
  });

  it.skipIf(engine === 'inline')('a resend through another process of the current value answers the version its id got', async () => {
    const a = await h.serve(engine);
    const b = await h.serve(engine, { schema: a.schema });
    const id = uuidv7();
    const ra = h.raw(a);
    const rb = h.raw(b);
    await Promise.all([ra.connected(), rb.connected()]);
    expect(await ra.emit([quote(1, id)])).toEqual({ ok: true, results: [{ id, status: 'accepted', version: 1 }] });
    // Process b never sent this id: the store says it is the subject's current value, at version 1.
    expect(await rb.emit([quote(1, id)])).toEqual({ ok: true, results: [{ id, status: 'duplicate', version: 1 }] });
    expect(await b.fete.latest('quotes.ACME')).toMatchObject([{ id, version: 1 }]);
  });

  // Found with this change: a command's ctx.emit answered `seq: 0` for every topic (it resolves
  // before the commit, so no seq exists yet), and its events of live topics were appended to the
  // log at the commit like log events. It now resolves with the id only, and a latest value is
  // upserted (a volatile event sent) once the command commits.
  it("a command's ctx.emit of a latest topic resolves with the id only and stores the value, not a log event", async () => {
    const s = await h.serve(engine);
    const setQuote = defineCommand('quotes.set', { input: z.object({ price: z.number() }), output: z.object({ id: z.string() }) });
    s.fete.handle(setQuote, async ({ price }, ctx) => {
      const emitted = await ctx.emit(topics.quote, { symbol: 'ACME', price });
      expect(emitted).toEqual({ id: expect.any(String) });
      return emitted;
    });
    const { id } = await s.fete.execute(setQuote, { price: 7 }, { principal: { id: 'server', tenant: '' } });
    expect(await s.fete.latest('quotes.ACME')).toMatchObject([{ id, version: 1, payload: { price: 7 } }]);
    expect((await s.fete.log.read(0)).events.filter((e) => e.topic === topics.quote.name)).toEqual([]);
  });
});
