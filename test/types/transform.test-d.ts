// Type tests for a transforming schema across every door (issue 9, build 3): `emit` takes the
// schema's input (`{ qty: string }`) on the server (fete.emit, emitMany, tx.emit, ctx.emit) and in
// the browser (client.emit); listeners and subscribers receive its output (`{ qty: number }`).
import { describe, expectTypeOf, test } from 'vitest';
import { z } from 'zod';
import type { Client } from '../../client/index.js';
import type { Fete } from '../../server/index.js';
import { defineTopic, defineTopics, type InputOf, type PayloadOf } from '../../shared/index.js';

const topics = defineTopics({
  qty: defineTopic('orders.{orderId}.qty', {
    kind: 'domain',
    clientEmit: true,
    expose: true,
    schema: z.object({ orderId: z.string(), qty: z.string().transform(Number) }),
  }),
});
type Topics = typeof topics;
declare const fete: Fete<Topics>;
declare const client: Client<Topics>;

describe('a transforming schema: input in, output out', () => {
  test('the topic carries both types', () => {
    expectTypeOf<InputOf<Topics['qty']>>().toEqualTypeOf<{ orderId: string; qty: string }>();
    expectTypeOf<PayloadOf<Topics['qty']>>().toEqualTypeOf<{ orderId: string; qty: number }>();
  });

  test('fete.emit, emitMany and tx.emit take the input and refuse the output', () => {
    void fete.emit(topics.qty, { orderId: 'o', qty: '3' });
    // @ts-expect-error qty is the schema's input: a string, not the number listeners get
    void fete.emit(topics.qty, { orderId: 'o', qty: 3 });
    void fete.emitMany([{ topic: topics.qty, payload: { orderId: 'o', qty: '3' } }]);
    // @ts-expect-error the same for emitMany
    void fete.emitMany([{ topic: topics.qty, payload: { orderId: 'o', qty: 3 } }]);
    void fete.transaction(async (tx) => {
      await tx.emit(topics.qty, { orderId: 'o', qty: '3' });
      // @ts-expect-error and for tx.emit
      await tx.emit(topics.qty, { orderId: 'o', qty: 3 });
    });
  });

  test('listeners get the output, and their ctx.emit takes the input', () => {
    fete.on(topics.qty, 'l', async (payload, ctx) => {
      expectTypeOf(payload.qty).toEqualTypeOf<number>();
      expectTypeOf(ctx.envelope.payload.qty).toEqualTypeOf<number>();
      await ctx.emit(topics.qty, { orderId: 'o', qty: String(payload.qty + 1) });
      // @ts-expect-error ctx.emit takes the input too
      await ctx.emit(topics.qty, { orderId: 'o', qty: payload.qty });
    });
  });

  test('client.emit takes the input; subscribers and the receipt get the output', async () => {
    const receipt = await client.emit(topics.qty, { orderId: 'o', qty: '3' });
    expectTypeOf(receipt.envelope.payload.qty).toEqualTypeOf<number>();
    // @ts-expect-error the browser sends the input as well
    void client.emit(topics.qty, { orderId: 'o', qty: 3 });
    client.subscribe('orders.*.qty', (event) => {
      expectTypeOf(event.payload.qty).toEqualTypeOf<number>();
    });
  });
});
