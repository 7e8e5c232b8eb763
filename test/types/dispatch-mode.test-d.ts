// Type tests for the dispatch mode in listener contexts: `ctx.tx` is a transaction where there is
// a store (durable, the default) and absent from the type under `dispatch: 'inline'`, so using
// it there is a compile error rather than a runtime refusal.
import { describe, expectTypeOf, test } from 'vitest';
import type { Fete, ListenerContext, TxQuery } from '../../server/index.js';
import type { Topics } from '../store/suite/harness.js';
import { topics } from '../store/suite/harness.js';

declare const durable: Fete<Topics>;
declare const inline: Fete<Topics, 'inline'>;

describe('dispatch mode', () => {
  test('durable listeners get ctx.tx', () => {
    durable.on(topics.orderPlaced, 'd', (_p, ctx) => {
      expectTypeOf(ctx.tx).toEqualTypeOf<TxQuery>();
    });
    expectTypeOf<ListenerContext<Topics>['tx']>().toEqualTypeOf<TxQuery>();
  });

  test('inline listeners have no ctx.tx to use', () => {
    inline.on(topics.orderPlaced, 'i', (_p, ctx) => {
      expectTypeOf(ctx.tx).toEqualTypeOf<undefined>();
      // @ts-expect-error no store, no transaction
      void ctx.tx.query('SELECT 1');
    });
    inline.schedule('tick', { everyMs: 1000 }, (_t, ctx) => {
      expectTypeOf(ctx.tx).toEqualTypeOf<undefined>();
    });
  });

  test('schedule targets are checked against the catalogue', () => {
    durable.schedule('audit', { everyMs: 1000 }, { topic: topics.audit, payload: { kind: 'k', msg: 'm' } });
    durable.schedule('audit-fn', '*/5 * * * *', { topic: topics.audit, payload: (tick) => ({ kind: 'k', msg: tick.toISOString() }) });
    // @ts-expect-error the payload must match the topic
    durable.schedule('bad', { everyMs: 1000 }, { topic: topics.audit, payload: { kind: 'k' } });
  });
});
