// Type tests for topic declarations: payload and input types from zod and valibot schemas, template
// parameters checked against payload fields, and typed subjects and envelopes derived from them.
import * as v from 'valibot';
import { describe, expectTypeOf, test } from 'vitest';
import { z } from 'zod';
import { createEnvelope, type Envelope, type EnvelopeOf } from '../../shared/envelope.js';
import {
  defineTopic,
  defineTopics,
  subjectOf,
  type InputOf,
  type ParamsOf,
  type PayloadOf,
  type SubjectOfTemplate,
  type TemplateOf,
  type Topic,
} from '../../shared/topic.js';

const orderStatus = defineTopic('orders.{orderId}.status', {
  kind: 'domain',
  schema: z.object({ orderId: z.string(), status: z.enum(['placed', 'paid', 'shipped']) }),
});

// Output differs from input: a default makes `qty` optional on input, a transform turns a string into a Date.
const lineAdded = defineTopic('orders.{orderId}.lines.added', {
  kind: 'domain',
  schema: z.object({
    orderId: z.string(),
    qty: z.number().int().default(1),
    at: z.string().transform((s) => new Date(s)),
  }),
});

const userRenamed = defineTopic('users.{userId}.renamed', {
  kind: 'integration',
  schema: v.object({ userId: v.number(), name: v.string() }),
});

describe('ParamsOf and SubjectOfTemplate', () => {
  test('ParamsOf lists every {param} of a template, never for none', () => {
    expectTypeOf<ParamsOf<'orders.{orderId}.status'>>().toEqualTypeOf<'orderId'>();
    expectTypeOf<ParamsOf<'t.{tenant}.orders.{orderId}'>>().toEqualTypeOf<'tenant' | 'orderId'>();
    expectTypeOf<ParamsOf<'system.ping'>>().toEqualTypeOf<never>();
  });

  test('SubjectOfTemplate replaces each param with string', () => {
    expectTypeOf<SubjectOfTemplate<'orders.{orderId}.status'>>().toEqualTypeOf<`orders.${string}.status`>();
    expectTypeOf<SubjectOfTemplate<'{a}.x.{b}'>>().toEqualTypeOf<`${string}.x.${string}`>();
    expectTypeOf<SubjectOfTemplate<'system.ping'>>().toEqualTypeOf<'system.ping'>();
  });

  test('subjectOf returns the template-shaped subject type', () => {
    expectTypeOf(subjectOf(orderStatus, { orderId: 'o-1', status: 'paid' })).toEqualTypeOf<`orders.${string}.status`>();
    const s: `orders.${string}.status` = subjectOf(orderStatus, { orderId: 'o-1', status: 'paid' });
    // @ts-expect-error the subject is not of another topic's shape
    const wrong: `users.${string}.renamed` = subjectOf(orderStatus, { orderId: 'o-1', status: 'paid' });
    void s;
    void wrong;
  });
});

describe('defineTopic', () => {
  test('the topic carries its template as a literal name', () => {
    expectTypeOf(orderStatus.name).toEqualTypeOf<'orders.{orderId}.status'>();
    expectTypeOf<TemplateOf<typeof orderStatus>>().toEqualTypeOf<'orders.{orderId}.status'>();
  });

  test('PayloadOf is the schema output and InputOf the schema input (zod default and transform)', () => {
    expectTypeOf<PayloadOf<typeof lineAdded>>().toEqualTypeOf<{ orderId: string; qty: number; at: Date }>();
    expectTypeOf<InputOf<typeof lineAdded>>().toEqualTypeOf<{ orderId: string; qty?: number | undefined; at: string }>();
  });

  test('valibot schemas type the payload too', () => {
    expectTypeOf<PayloadOf<typeof userRenamed>>().toEqualTypeOf<{ userId: number; name: string }>();
    expectTypeOf<InputOf<typeof userRenamed>>().toEqualTypeOf<{ userId: number; name: string }>();
  });

  test('a template param that is not a payload field does not compile (zod)', () => {
    defineTopic('orders.{orderId}.status', {
      kind: 'domain',
      // @ts-expect-error orderId is not a field of the payload
      schema: z.object({ id: z.string(), status: z.string() }),
    });
    defineTopic('t.{tenant}.orders.{orderId}', {
      kind: 'domain',
      // @ts-expect-error tenant is missing although orderId is there
      schema: z.object({ orderId: z.string() }),
    });
  });

  test('a template param that is not a payload field does not compile (valibot)', () => {
    defineTopic('users.{userId}.renamed', {
      kind: 'domain',
      // @ts-expect-error userId is not a field of the payload
      schema: v.object({ id: v.number(), name: v.string() }),
    });
  });

  test('without a schema, params are typed string | number and other fields unknown', () => {
    const loose = defineTopic('carts.{cartId}.touched', { kind: 'presentation' });
    expectTypeOf<PayloadOf<typeof loose>['cartId']>().toEqualTypeOf<string | number>();
    subjectOf(loose, { cartId: 7, anything: true });
    // @ts-expect-error cartId is required to fill the template
    subjectOf(loose, { other: 1 });
  });

  test('the kind must be one of the three kinds', () => {
    // @ts-expect-error 'command' is not a kind
    defineTopic('system.ping', { kind: 'command' });
  });
});

describe('a wrong payload does not compile', () => {
  test('createEnvelope rejects a missing field and a wrong field type', () => {
    createEnvelope(orderStatus, { orderId: 'o-1', status: 'paid' });
    // @ts-expect-error status is missing
    createEnvelope(orderStatus, { orderId: 'o-1' });
    // @ts-expect-error orderId must be a string
    createEnvelope(orderStatus, { orderId: 17, status: 'paid' });
    // @ts-expect-error 'lost' is not a status
    createEnvelope(orderStatus, { orderId: 'o-1', status: 'lost' });
  });

  test('createEnvelope takes the schema input, not the output', () => {
    createEnvelope(lineAdded, { orderId: 'o-1', at: '2024-01-01T00:00:00Z' });
    // @ts-expect-error `at` is a string on input; the Date is the output
    createEnvelope(lineAdded, { orderId: 'o-1', at: new Date() });
  });

  test('subjectOf rejects a missing field and a wrong field type', () => {
    // @ts-expect-error status is missing
    subjectOf(orderStatus, { orderId: 'o-1' });
    // @ts-expect-error orderId must be a string
    subjectOf(orderStatus, { orderId: 17, status: 'paid' });
    // @ts-expect-error userId must be a number (valibot)
    subjectOf(userRenamed, { userId: 'u-1', name: 'Ann' });
  });
});

describe('envelopes', () => {
  test('createEnvelope returns the envelope of the topic: output payload, literal topic name', () => {
    const env = createEnvelope(lineAdded, { orderId: 'o-1', at: '2024-01-01T00:00:00Z' });
    expectTypeOf(env).toEqualTypeOf<Envelope<{ orderId: string; qty: number; at: Date }, 'orders.{orderId}.lines.added'>>();
    expectTypeOf(env.payload.at).toEqualTypeOf<Date>();
    expectTypeOf(env.topic).toEqualTypeOf<'orders.{orderId}.lines.added'>();
    expectTypeOf(env).toEqualTypeOf<EnvelopeOf<typeof lineAdded>>();
  });

  test('EnvelopeOf distributes over a union of topics', () => {
    type Ev = EnvelopeOf<typeof orderStatus | typeof userRenamed>;
    expectTypeOf<Ev['topic']>().toEqualTypeOf<'orders.{orderId}.status' | 'users.{userId}.renamed'>();
  });
});

describe('browser flags in the type', () => {
  test('kind, clientEmit and expose are recorded as literals; presentation topics are always exposed', () => {
    const shown = defineTopic('orders.{orderId}.shown', { kind: 'domain', expose: true, clientEmit: true, schema: z.object({ orderId: z.string() }) });
    const hidden = defineTopic('ledger.{id}', { kind: 'integration', schema: z.object({ id: z.string() }) });
    const pushed = defineTopic('toasts.{id}', { kind: 'presentation' });
    expectTypeOf(shown.expose).toEqualTypeOf<true>();
    expectTypeOf(shown.clientEmit).toEqualTypeOf<true>();
    expectTypeOf(shown.kind).toEqualTypeOf<'domain'>();
    expectTypeOf(hidden.expose).toEqualTypeOf<false>();
    expectTypeOf(hidden.clientEmit).toEqualTypeOf<false>();
    expectTypeOf(pushed.expose).toEqualTypeOf<true>();
    expectTypeOf(orderStatus).toExtend<Topic>();
  });
});

describe('defineTopics', () => {
  test('keeps each topic type under its key', () => {
    const topics = defineTopics({ orderStatus, userRenamed });
    expectTypeOf(topics.orderStatus).toEqualTypeOf(orderStatus);
    expectTypeOf(topics.userRenamed).toExtend<Topic<{ userId: number; name: string }, 'users.{userId}.renamed'>>();
  });

  test('refuses a value that is not a topic', () => {
    // @ts-expect-error a string is not a topic
    defineTopics({ bad: 'orders.*' });
  });
});
