// The server's types follow the topic catalogue: listener payloads, pattern unions, emit inputs.
// Checked by tsc (`npm test` runs it first); the runtime part only builds an inline fete.
import { describe, expectTypeOf, it } from 'vitest';
import type { Envelope } from '../../shared/index.js';
import { type LoggedResult, createFete } from '../../server/index.js';
import { topics } from '../store/suite/harness.js';

describe('server types', () => {
  it('derive listener payloads and emit inputs from the catalogue', async () => {
    const fete = await createFete({ topics, dispatch: 'inline' });
    fete.on(topics.orderPlaced, 'typed', (payload, ctx) => {
      expectTypeOf(payload.orderId).toEqualTypeOf<string>();
      expectTypeOf(payload.total).toEqualTypeOf<number>();
      expectTypeOf(ctx.envelope.topic).toEqualTypeOf<'orders.{orderId}.placed'>();
      expectTypeOf(ctx.attempt).toEqualTypeOf<number>();
      expectTypeOf(ctx.signal).toEqualTypeOf<AbortSignal>();
      // @ts-expect-error ctx.emit is checked against the catalogue too
      void ctx.emit(topics.audit, { kind: 'k' });
    });
    fete.on('orders.*.shipped', 'pattern', (payload, ctx) => {
      expectTypeOf(payload).toEqualTypeOf<{ orderId: string }>();
      expectTypeOf(ctx.envelope).toExtend<Envelope>();
    });
    fete.on('orders.>', 'union', (_payload, ctx) => {
      if (ctx.envelope.topic === 'orders.{orderId}.shipped') expectTypeOf(ctx.envelope.payload).toEqualTypeOf<{ orderId: string }>();
    });
    expectTypeOf(fete.emit(topics.orderShipped, { orderId: 'x' })).resolves.toEqualTypeOf<LoggedResult>();
    // @ts-expect-error the payload must match the topic's schema input
    void fete.emit(topics.orderShipped, { order: 'x' }).catch(() => undefined);
    await fete.emitMany([
      { topic: topics.orderShipped, payload: { orderId: 'a' } },
      { topic: topics.audit, payload: { kind: 'k', msg: 'm' }, idempotencyKey: 'k1' },
    ]);
    await fete.stop();
  });
});
