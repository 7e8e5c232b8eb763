// Type tests for commands and queries: declarations carry input and output types through Standard
// Schema (callers pass the input schema's input, handlers get its output; handlers return the
// output schema's input, callers get its output), on the server and in the browser, with no code
// generation. A wrong input, a wrong return, an undeclared reason or an emit in a query do not compile.
import { describe, expectTypeOf, test } from 'vitest';
import { z } from 'zod';
import { type Client, type QueuedCommand, defineCommand, defineCommands, defineQuery, defineTopic, defineTopics } from '../../client/index.js';
import type { Fete } from '../../server/index.js';

const topics = defineTopics({
  orderPlaced: defineTopic('orders.{orderId}.placed', { kind: 'domain', schema: z.object({ orderId: z.string(), total: z.number() }) }),
});

const commands = defineCommands({
  place: defineCommand('orders.place', {
    input: z.object({ sku: z.string(), qty: z.string().transform(Number) }),
    output: z.object({ orderId: z.string(), at: z.string().transform((s) => new Date(s)) }),
    reasons: ['OUT_OF_STOCK', 'CLOSED_TODAY'],
  }),
  list: defineQuery('orders.list', { input: z.object({ sku: z.string().optional() }), output: z.array(z.string()) }),
});

declare const fete: Fete<typeof topics>;
declare const client: Client<typeof topics>;

describe('server', () => {
  test('the handler gets the input schema output and returns the output schema input', () => {
    fete.handle(commands.place, (input, ctx) => {
      expectTypeOf(input).toEqualTypeOf<{ sku: string; qty: number }>();
      expectTypeOf(ctx.id).toBeString();
      expectTypeOf(ctx.signal).toEqualTypeOf<AbortSignal>();
      void ctx.emit(topics.orderPlaced, { orderId: 'o', total: input.qty });
      return { orderId: 'o', at: '2026-01-01' };
    });
  });

  test('fete.execute takes the input schema input and resolves with the output schema output', async () => {
    const out = await fete.execute(commands.place, { sku: 'tea', qty: '2' });
    expectTypeOf(out).toEqualTypeOf<{ orderId: string; at: Date }>();
    const rows = await fete.query(commands.list, {});
    expectTypeOf(rows).toEqualTypeOf<string[]>();
  });

  test("a command's recorded result is typed by its declaration, unknown by id alone", async () => {
    expectTypeOf(await fete.commandResult(commands.place, 'id')).toEqualTypeOf<{ orderId: string; at: Date }>();
    expectTypeOf(await fete.commandResult('id', { principal: 'ann' })).toEqualTypeOf<unknown>();
    // @ts-expect-error a query has no recorded result
    void fete.commandResult(commands.list, 'id');
  });

  test('a wrong input does not compile', () => {
    // @ts-expect-error qty is the schema's input type: a string
    void fete.execute(commands.place, { sku: 'tea', qty: 2 });
    // @ts-expect-error sku is missing
    void fete.execute(commands.place, { qty: '2' });
    // @ts-expect-error a query is not a command
    void fete.execute(commands.list, {});
    // @ts-expect-error a command is not a query
    void fete.query(commands.place, { sku: 'tea', qty: '2' });
  });

  test('a wrong return, an undeclared reason and an emit from a query do not compile', () => {
    // @ts-expect-error `at` must be the output schema's input (a string)
    fete.handle(commands.place, () => ({ orderId: 'o', at: new Date() }));
    fete.handle(commands.place, (_input, ctx) =>
      // @ts-expect-error only declared reasons
      ctx.reject('NOPE'),
    );
    fete.handle(commands.place, (_input, ctx) => ctx.reject('OUT_OF_STOCK', 'sold out'));
    fete.handle(commands.list, (_input, ctx) => {
      // @ts-expect-error queries cannot emit
      void ctx.emit(topics.orderPlaced, { orderId: 'o', total: 1 });
      return [];
    });
  });
});

describe('client', () => {
  test('execute and query are typed by the declaration', async () => {
    const out = await client.execute(commands.place, { sku: 'tea', qty: '1' }, { timeoutMs: 5000 });
    expectTypeOf(out).toEqualTypeOf<{ orderId: string; at: Date }>();
    const receipt = await client.execute(commands.place, { sku: 'tea', qty: '1' }, { queue: true });
    expectTypeOf(receipt).toEqualTypeOf<QueuedCommand<{ orderId: string; at: Date }>>();
    expectTypeOf(await receipt.result).toEqualTypeOf<{ orderId: string; at: Date }>();
    expectTypeOf(await client.commandResult(commands.place, receipt.id)).toEqualTypeOf<{ orderId: string; at: Date }>();
    expectTypeOf(await client.commandResult(receipt.id)).toEqualTypeOf<unknown>();
    // @ts-expect-error a query has no recorded result
    void client.commandResult(commands.list, receipt.id);
    expectTypeOf(await client.query(commands.list, { sku: 'tea' })).toEqualTypeOf<string[]>();
  });

  test('a wrong input does not compile', () => {
    // @ts-expect-error qty must be a string
    void client.execute(commands.place, { sku: 'tea', qty: 1 });
    // @ts-expect-error unknown field
    void client.query(commands.list, { sku: 'tea', extra: 1 });
  });
});
