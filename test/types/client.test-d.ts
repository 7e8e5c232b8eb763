// Type tests for the browser client: every signature comes from the topic catalogue. A
// subscription's event is the union of the topics its pattern can match (narrowable on `topic`),
// `emit` takes exactly the topic's input type, and receipts, status and events are typed.
import { describe, expectTypeOf, test } from 'vitest';
import { z } from 'zod';
import type { Cursor } from '../../shared/index.js';
import {
  createClient,
  defineTopic,
  defineTopics,
  type Client,
  type ClientStatus,
  type ClientSubscription,
  type DeliveredLogged,
  type EmitReceipt,
  type Envelope,
  type FeteError,
  type Gap,
} from '../../client/index.js';

const topics = defineTopics({
  orderStatus: defineTopic('orders.{orderId}.status', {
    kind: 'presentation',
    schema: z.object({ orderId: z.string(), status: z.enum(['placed', 'paid', 'shipped']) }),
  }),
  orderPlaced: defineTopic('orders.{orderId}.placed', {
    kind: 'domain',
    clientEmit: true,
    expose: true,
    schema: z.object({ orderId: z.string(), total: z.number(), at: z.coerce.date() }),
  }),
  userCreated: defineTopic('users.{userId}.created', { kind: 'domain', schema: z.object({ userId: z.number() }) }),
});

declare const client: Client<typeof topics>;

type StatusEvent = Envelope<{ orderId: string; status: 'placed' | 'paid' | 'shipped' }, 'orders.{orderId}.status'>;
type PlacedEvent = Envelope<{ orderId: string; total: number; at: Date }, 'orders.{orderId}.placed'>;

describe('createClient', () => {
  test('is typed by the catalogue it is given', () => {
    const c = createClient({ url: 'https://app.example.com', topics, outbox: 'memory' });
    expectTypeOf(c).toEqualTypeOf<Client<typeof topics>>();
    expectTypeOf(c.topics).toEqualTypeOf<typeof topics>();
  });

  test('options are checked', () => {
    // @ts-expect-error outbox is 'indexeddb' | 'memory' | a store
    createClient({ url: 'x', topics, outbox: 'localStorage' });
    // @ts-expect-error url is required
    createClient({ topics });
  });
});

describe('subscribe', () => {
  test("the handler's event for orders.*.status is the status envelope", () => {
    client.subscribe('orders.*.status', (ev, sub) => {
      expectTypeOf(ev).toEqualTypeOf<StatusEvent>();
      expectTypeOf(ev.payload.status).toEqualTypeOf<'placed' | 'paid' | 'shipped'>();
      expectTypeOf(sub).toEqualTypeOf<ClientSubscription<StatusEvent>>();
    });
  });

  test('orders.> is the union of the orders topics, narrowed on ev.topic', () => {
    client.subscribe('orders.>', (ev) => {
      expectTypeOf(ev).toEqualTypeOf<StatusEvent | PlacedEvent>();
      if (ev.topic === 'orders.{orderId}.placed') expectTypeOf(ev.payload.total).toEqualTypeOf<number>();
      else expectTypeOf(ev.payload.status).toEqualTypeOf<'placed' | 'paid' | 'shipped'>();
      // @ts-expect-error users are not under orders.>
      if (ev.topic === 'users.{userId}.created') return;
    });
  });

  test('a literal subject gets the topic that produces it; > gets every topic', () => {
    client.subscribe('orders.o-17.placed', (ev) => expectTypeOf(ev).toEqualTypeOf<PlacedEvent>());
    client.subscribe('>', (ev) => expectTypeOf(ev.topic).toEqualTypeOf<'orders.{orderId}.status' | 'orders.{orderId}.placed'>());
  });

  test('types only exposed topics: a domain topic without expose is never a subscription event', () => {
    client.subscribe('>', (ev) => {
      // @ts-expect-error users.{userId}.created is a domain topic the server never sends to browsers
      if (ev.topic === 'users.{userId}.created') return;
    });
    // @ts-expect-error users.> can match no exposed topic: refused at compile time (and by the server)
    client.subscribe('users.>', () => {});
    client.subscribe('*.*.*', (ev) => expectTypeOf(ev).toEqualTypeOf<StatusEvent | PlacedEvent>());
  });

  test('without a handler the subscription is iterable over the same events', async () => {
    const sub = client.subscribe('orders.*.status', { from: 'earliest' });
    expectTypeOf(sub).toEqualTypeOf<ClientSubscription<StatusEvent>>();
    for await (const ev of sub) expectTypeOf(ev).toEqualTypeOf<StatusEvent>();
    expectTypeOf(sub.cursor).toEqualTypeOf<Cursor | undefined>();
    expectTypeOf(sub.ready).toEqualTypeOf<Promise<void>>();
  });

  test('options: from is latest, earliest, a cursor or a seq; onGap gets a Gap', () => {
    client.subscribe('orders.>', () => {}, { from: 42, onGap: (g) => expectTypeOf(g).toEqualTypeOf<Gap>() });
    client.subscribe('orders.>', () => {}, { from: 'a1b2:42' });
    // @ts-expect-error from is 'latest' | 'earliest' | a cursor | number
    client.subscribe('orders.>', () => {}, { from: 'yesterday' });
  });
});

describe('emit', () => {
  test('takes the topic input and resolves to a receipt with the envelope and delivered', async () => {
    const receipt = await client.emit(topics.orderPlaced, { orderId: 'o-1', total: 3, at: '2026-01-01' });
    expectTypeOf(receipt).toEqualTypeOf<EmitReceipt<PlacedEvent, DeliveredLogged>>();
    expectTypeOf(receipt.envelope.payload.at).toEqualTypeOf<Date>();
    expectTypeOf(receipt.delivered).toEqualTypeOf<Promise<DeliveredLogged>>();
    expectTypeOf<DeliveredLogged>().toEqualTypeOf<{ id: string; seq: number; duplicate: boolean }>();
  });

  test('a wrong payload does not compile', () => {
    // @ts-expect-error total must be a number
    void client.emit(topics.orderPlaced, { orderId: 'o-1', total: '3', at: new Date() });
    // @ts-expect-error orderId is missing
    void client.emit(topics.orderPlaced, { total: 3, at: new Date() });
    // @ts-expect-error a status payload is not an order payload
    void client.emit(topics.orderPlaced, { orderId: 'o-1', status: 'paid' });
    const stranger = defineTopic('stranger.{x}', { kind: 'domain', clientEmit: true, schema: z.object({ x: z.string() }) });
    // @ts-expect-error a topic outside the catalogue
    void client.emit(stranger, { x: 'y' });
  });

  test('a topic that is not clientEmit does not compile', () => {
    // @ts-expect-error a domain topic without clientEmit: only the server emits it
    void client.emit(topics.userCreated, { userId: 1 });
    // @ts-expect-error a presentation topic is output only
    void client.emit(topics.orderStatus, { orderId: 'o-1', status: 'paid' });
  });
});

describe('status and events', () => {
  test('status is a typed snapshot; on() is typed per event and returns an unsubscribe', () => {
    expectTypeOf(client.status).toEqualTypeOf<ClientStatus>();
    expectTypeOf(client.status.lastError).toEqualTypeOf<FeteError | undefined>();
    const off = client.on('status', (s) => expectTypeOf(s.pending).toEqualTypeOf<number>());
    expectTypeOf(off).toEqualTypeOf<() => void>();
    client.on('error', (e) => expectTypeOf(e).toEqualTypeOf<FeteError>());
    client.on('gap', (g) => expectTypeOf(g.resumedAt).toEqualTypeOf<number>());
    // @ts-expect-error no such event
    client.on('message', () => {});
  });
});
