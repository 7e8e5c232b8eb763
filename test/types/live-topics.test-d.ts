// Type tests for `delivery` (volatile and latest-value topics): the option is kept as a literal in
// the topic's type, a bad value does not compile, durable listeners on a topic outside the log are
// a compile error (non-durable ones and inline fetes are fine), and receivers see the `volatile`
// mark and the `version` of a latest value in the envelope type.
import { describe, expectTypeOf, test } from 'vitest';
import { z } from 'zod';
import type { Client, Delivered, DeliveredLatest, DeliveredVolatile } from '../../client/index.js';
import type { ClearLatestResult, DeferredEmitFn, EmitResult, LatestResult, LoggedResult, VolatileResult, Fete } from '../../server/index.js';
import { type EmitAckItem, type EmitAckLatest, type EmitAckLogged, type EmitAckVolatile, type LatestCleared, type LatestClearReason, type TopicDelivery, defineTopic, defineTopics } from '../../shared/index.js';

const topics = defineTopics({
  cursor: defineTopic('rooms.{room}.cursor', { kind: 'presentation', delivery: 'volatile', schema: z.object({ room: z.string(), x: z.number() }) }),
  price: defineTopic('prices.{symbol}', { kind: 'presentation', delivery: 'latest', schema: z.object({ symbol: z.string(), price: z.number() }) }),
  typing: defineTopic('rooms.{room}.typing', { kind: 'domain', delivery: 'volatile', clientEmit: true, expose: true, schema: z.object({ room: z.string() }) }),
  chat: defineTopic('rooms.{room}.chat', { kind: 'presentation', schema: z.object({ room: z.string(), text: z.string() }) }),
  // Browsers emit these: a latest value and a log event.
  quote: defineTopic('quotes.{symbol}', { kind: 'domain', delivery: 'latest', clientEmit: true, expose: true, schema: z.object({ symbol: z.string(), price: z.number() }) }),
  note: defineTopic('rooms.{room}.note', { kind: 'domain', clientEmit: true, expose: true, schema: z.object({ room: z.string(), text: z.string() }) }),
});
type Topics = typeof topics;
declare const durable: Fete<Topics>;
declare const inline: Fete<Topics, 'inline'>;
declare const client: Client<Topics>;

describe('delivery', () => {
  test('is a literal in the topic type, log by default', () => {
    expectTypeOf(topics.cursor.delivery).toEqualTypeOf<'volatile'>();
    expectTypeOf(topics.price.delivery).toEqualTypeOf<'latest'>();
    expectTypeOf(topics.chat.delivery).toEqualTypeOf<'log'>();
    expectTypeOf<TopicDelivery>().toEqualTypeOf<'log' | 'volatile' | 'latest'>();
  });

  test('refuses an unknown delivery', () => {
    // @ts-expect-error not a delivery
    defineTopic('a.b', { kind: 'presentation', delivery: 'durable' });
  });

  test('durable listeners on volatile and latest topics do not compile; non-durable and inline ones do', () => {
    // @ts-expect-error durable (the default) on a volatile topic
    durable.on(topics.cursor, 'a', () => undefined);
    // @ts-expect-error durable (explicitly) on a latest topic
    durable.on(topics.price, 'b', () => undefined, { durable: true });
    durable.on(topics.price, 'c', (payload, ctx) => {
      expectTypeOf(payload).toEqualTypeOf<{ symbol: string; price: number }>();
      expectTypeOf(ctx.envelope.version).toEqualTypeOf<number | undefined>();
    }, { durable: false });
    durable.on(topics.chat, 'd', () => undefined);
    inline.on(topics.cursor, 'e', () => undefined);
    // Patterns: durable only if they match a log topic.
    // @ts-expect-error matches only a latest topic
    durable.on('prices.*', 'f', () => undefined);
    durable.on('prices.*', 'g', () => undefined, { durable: false });
    durable.on('rooms.>', 'h', () => undefined); // rooms.{room}.chat is in the log
    inline.on('prices.*', 'i', () => undefined);
  });

  test('emit is typed like any topic; a latest emit tells its version, no emit of a live topic a seq', () => {
    expectTypeOf(durable.emit(topics.price, { symbol: 'A', price: 1 })).toEqualTypeOf<Promise<LatestResult>>();
    expectTypeOf(durable.emit(topics.cursor, { room: 'r', x: 1 })).toEqualTypeOf<Promise<VolatileResult>>();
    expectTypeOf(durable.emit(topics.chat, { room: 'r', text: 't' })).toEqualTypeOf<Promise<LoggedResult>>();
    expectTypeOf<LatestResult>().toEqualTypeOf<{ id: string; duplicate: boolean; version?: number }>();
    expectTypeOf<LoggedResult>().toEqualTypeOf<{ id: string; seq: number; duplicate: boolean }>();
    expectTypeOf<VolatileResult>().toEqualTypeOf<{ id: string; duplicate: boolean }>();
    expectTypeOf<EmitResult>().toEqualTypeOf<LoggedResult | LatestResult | VolatileResult>();
    // emitMany: one result per item, each by its topic.
    expectTypeOf(durable.emitMany([{ topic: topics.chat, payload: { room: 'r', text: 't' } }, { topic: topics.price, payload: { symbol: 'A', price: 1 } }])).toEqualTypeOf<
      Promise<[LoggedResult, LatestResult]>
    >();
    void durable.transaction(async (tx) => {
      expectTypeOf(await tx.emit(topics.price, { symbol: 'A', price: 1 })).toEqualTypeOf<LatestResult>();
    });
    // A command's ctx.emit resolves before the commit: the id only.
    expectTypeOf<ReturnType<DeferredEmitFn<Topics>>>().toEqualTypeOf<Promise<{ id: string }>>();
    // @ts-expect-error the payload is checked
    void durable.emit(topics.cursor, { room: 'r' });
    void client.emit(topics.typing, { room: 'r' });
    // @ts-expect-error presentation topics are never emitted by clients, volatile or not
    void client.emit(topics.cursor, { room: 'r', x: 1 });
  });

  test('a browser emit resolves to the position its topic has: a version for latest, none for volatile, a seq for log', async () => {
    const receipt = await client.emit(topics.quote, { symbol: 'A', price: 1 });
    expectTypeOf(receipt.delivered).toEqualTypeOf<Promise<DeliveredLatest>>();
    const d = await receipt.delivered;
    if (!d.duplicate) expectTypeOf(d.version).toEqualTypeOf<number>();
    else expectTypeOf(d.version).toEqualTypeOf<number | undefined>();
    // @ts-expect-error a latest value is in no log: no seq
    void d.seq;
    expectTypeOf((await client.emit(topics.typing, { room: 'r' })).delivered).toEqualTypeOf<Promise<DeliveredVolatile>>();
    expectTypeOf((await client.emit(topics.note, { room: 'r', text: 't' })).delivered).resolves.toHaveProperty('seq').toEqualTypeOf<number>();
    expectTypeOf<DeliveredVolatile>().toEqualTypeOf<{ id: string; duplicate: boolean }>();
    expectTypeOf<DeliveredLatest>().toExtend<Delivered>();
  });

  test('the emit answer on the wire: a seq for log, a version for latest, neither for volatile', () => {
    expectTypeOf<EmitAckLogged>().toEqualTypeOf<{ id: string; status: 'accepted' | 'duplicate'; seq: number }>();
    expectTypeOf<EmitAckLatest>().toEqualTypeOf<{ id: string; status: 'accepted'; version: number } | { id: string; status: 'duplicate'; version?: number }>();
    expectTypeOf<EmitAckVolatile>().toEqualTypeOf<{ id: string; status: 'accepted' | 'duplicate' }>();
    const item = {} as EmitAckItem;
    if ('seq' in item) expectTypeOf(item).toEqualTypeOf<EmitAckLogged>();
    if (item.status === 'accepted' && 'version' in item) expectTypeOf(item.version).toEqualTypeOf<number>();
  });

  test('subscribers see the volatile mark and the version', () => {
    client.subscribe('prices.*', (e) => {
      expectTypeOf(e.payload).toEqualTypeOf<{ symbol: string; price: number }>();
      expectTypeOf(e.version).toEqualTypeOf<number | undefined>();
    });
    client.subscribe('rooms.*.cursor', (e) => {
      expectTypeOf(e.volatile).toEqualTypeOf<true | undefined>();
    });
  });

  test('clearLatest takes a latest topic and the parameters of its template', () => {
    expectTypeOf(durable.clearLatest(topics.price, { symbol: 'A' })).toEqualTypeOf<Promise<ClearLatestResult>>();
    void inline.clearLatest(topics.price, { symbol: 1 }, { tenant: 't1' });
    // @ts-expect-error a log topic keeps no value
    void durable.clearLatest(topics.chat, { room: 'r' });
    // @ts-expect-error a volatile topic keeps no value
    void durable.clearLatest(topics.cursor, { room: 'r' });
    // @ts-expect-error the template's parameter is required
    void durable.clearLatest(topics.price, {});
    // @ts-expect-error not a parameter of the template
    void durable.clearLatest(topics.price, { symbol: 'A', room: 'r' });
  });

  test('subscribers are told of removals with a typed notice; ttlMs is a number', () => {
    client.subscribe('prices.*', () => undefined, {
      onCleared: (n) => {
        expectTypeOf(n).toEqualTypeOf<LatestCleared>();
        expectTypeOf(n.reason).toEqualTypeOf<LatestClearReason>();
        expectTypeOf<LatestClearReason>().toEqualTypeOf<'cleared' | 'expired' | 'gone'>();
      },
    });
    expectTypeOf(defineTopic('a.{id}', { kind: 'presentation', delivery: 'latest', ttlMs: 5_000 }).ttlMs).toEqualTypeOf<number | undefined>();
  });
});
