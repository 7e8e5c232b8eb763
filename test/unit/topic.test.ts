// Topics with real zod and valibot schemas: declaration checks, payload validation (schema output
// is what comes back), and filling template parameters into a subject.
import * as v from 'valibot';
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { FeteError } from '../../shared/errors.js';
import {
  defineTopic,
  defineTopics,
  subjectOf,
  topicByName,
  validatePayload,
  validatePayloadSync,
  type AnyTopic,
} from '../../shared/topic.js';

/** Runs `fn` and returns the FeteError it threw (fails the test on anything else). */
function feteError(fn: () => unknown): FeteError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FeteError);
    return err as FeteError;
  }
  throw new Error('expected a FeteError');
}

const zodStatus = defineTopic('orders.{orderId}.status', {
  kind: 'domain',
  schema: z.object({ orderId: z.string().trim(), status: z.enum(['placed', 'paid']), note: z.string().default('none') }),
});
const valibotStatus = defineTopic('orders.{orderId}.status', {
  kind: 'domain',
  schema: v.object({
    orderId: v.pipe(v.string(), v.trim()),
    status: v.picklist(['placed', 'paid']),
    note: v.optional(v.string(), 'none'),
  }),
});

describe.each([
  ['zod', zodStatus],
  ['valibot', valibotStatus],
] as const)('payload validation with %s', (_lib, topic) => {
  test('a valid payload passes and the schema output is returned (defaults, transforms)', () => {
    const out = validatePayloadSync(topic as AnyTopic, { orderId: '  o-1 ', status: 'paid' });
    expect(out).toEqual({ orderId: 'o-1', status: 'paid', note: 'none' });
  });

  test('the async path returns the same output', async () => {
    await expect(validatePayload(topic as AnyTopic, { orderId: 'o-2', status: 'placed', note: 'n' })).resolves.toEqual({
      orderId: 'o-2',
      status: 'placed',
      note: 'n',
    });
  });

  test('an invalid payload is INVALID_PAYLOAD naming the issue path', () => {
    const err = feteError(() => validatePayloadSync(topic as AnyTopic, { orderId: 'o-1', status: 'lost' }));
    expect(err.code).toBe('INVALID_PAYLOAD');
    expect(err.message).toContain('orders.{orderId}.status');
    expect(err.message).toMatch(/status: /);
    expect(err.details?.issues).toEqual([expect.objectContaining({ path: expect.anything() })]);
  });

  test('a nested issue path is dotted in the message', async () => {
    const nested = defineTopic('x.nested', {
      kind: 'domain',
      schema: _lib === 'zod' ? z.object({ a: z.object({ b: z.array(z.number()) }) }) : v.object({ a: v.object({ b: v.array(v.number()) }) }),
    });
    await expect(validatePayload(nested, { a: { b: [1, 'two'] } })).rejects.toThrow(/a\.b\.1: /);
  });

  test('a non-object payload is INVALID_PAYLOAD, not a crash', () => {
    for (const p of [null, undefined, 'x', 7]) expect(feteError(() => validatePayloadSync(topic as AnyTopic, p)).code).toBe('INVALID_PAYLOAD');
  });
});

describe('async schemas', () => {
  const asyncTopic = defineTopic('jobs.{jobId}', {
    kind: 'domain',
    schema: z.object({ jobId: z.string() }).refine(async (p) => p.jobId !== 'taken', 'taken'),
  });

  test('validatePayloadSync refuses an async schema with a clear error', () => {
    const err = feteError(() => validatePayloadSync(asyncTopic, { jobId: 'j' }));
    expect(err.message).toMatch(/async/);
  });

  test('validatePayload awaits an async schema', async () => {
    await expect(validatePayload(asyncTopic, { jobId: 'j' })).resolves.toEqual({ jobId: 'j' });
    await expect(validatePayload(asyncTopic, { jobId: 'taken' })).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
  });
});

describe('subjectOf', () => {
  const t = defineTopic('t.{tenant}.orders.{orderId}', { kind: 'domain', schema: z.object({ tenant: z.string(), orderId: z.union([z.string(), z.number()]) }) });

  test('fills every parameter from the payload', () => {
    expect(subjectOf(t, { tenant: 'acme', orderId: 'o-17' })).toBe('t.acme.orders.o-17');
  });

  test('number and bigint parameters become their decimal text', () => {
    expect(subjectOf(t, { tenant: 'acme', orderId: 17 })).toBe('t.acme.orders.17');
    expect(subjectOf(t, { tenant: 'acme', orderId: -3 })).toBe('t.acme.orders.-3');
    const big = defineTopic('b.{n}', { kind: 'domain' });
    expect(subjectOf(big, { n: 12345678901234567890n as unknown as number })).toBe('b.12345678901234567890');
  });

  test('a topic without parameters has its template as subject', () => {
    expect(subjectOf(defineTopic('system.ping', { kind: 'presentation' }), undefined)).toBe('system.ping');
  });

  test.each([
    ['a dot', 'a.b'],
    ['an empty string', ''],
    ['a star', '*'],
    ['a >', '>'],
    ['a wildcard inside', 'o*'],
    ['whitespace', 'o 1'],
    ['a tab', '\t'],
    ['an object', { id: 1 }],
    ['an array', ['a']],
    ['null', null],
    ['undefined', undefined],
    ['a boolean', true],
    ['a fractional number (has a dot)', 1.5],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
  ])('a parameter holding %s is INVALID_PAYLOAD, never a silent subject', (_what, value) => {
    const err = feteError(() => subjectOf(t, { tenant: 'acme', orderId: value as string }));
    expect(err.code).toBe('INVALID_PAYLOAD');
    expect(err.message).toContain('{orderId}');
    expect(err.details).toEqual({ topic: t.name, param: 'orderId' });
  });

  test('a parameter value that cannot be printed still gives INVALID_PAYLOAD', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(feteError(() => subjectOf(t, { tenant: cyclic as unknown as string, orderId: 1 })).code).toBe('INVALID_PAYLOAD');
    expect(feteError(() => subjectOf(t, { tenant: Object.create(null) as string, orderId: 1 })).code).toBe('INVALID_PAYLOAD');
  });

  test('a missing payload is INVALID_PAYLOAD', () => {
    for (const p of [null, undefined, 'acme']) expect(feteError(() => subjectOf(t, p as never)).code).toBe('INVALID_PAYLOAD');
  });

  test('a subject over the byte limit after filling is INVALID_PAYLOAD', () => {
    const err = feteError(() => subjectOf(t, { tenant: 'x'.repeat(300), orderId: 1 }));
    expect(err.code).toBe('INVALID_PAYLOAD');
    expect(err.message).toMatch(/256 bytes/);
  });

  test('an inherited property never fills a parameter', () => {
    const c = defineTopic('c.{constructor}', { kind: 'domain' });
    expect(feteError(() => subjectOf(c, {} as never)).code).toBe('INVALID_PAYLOAD');
  });
});

describe('defineTopic', () => {
  test('records name, template, params, pattern and defaults', () => {
    const t = defineTopic('t.{tenant}.orders.{orderId}.status', { kind: 'domain' });
    expect(t).toMatchObject({
      name: 't.{tenant}.orders.{orderId}.status',
      template: 't.{tenant}.orders.{orderId}.status',
      kind: 'domain',
      clientEmit: false,
      retention: undefined,
      params: ['tenant', 'orderId'],
      pattern: 't.*.orders.*.status',
    });
    expect(Object.isFrozen(t)).toBe(true);
  });

  test('keeps clientEmit and retention', () => {
    const t = defineTopic('cart.{cartId}.add', { kind: 'domain', clientEmit: true, retention: { maxAgeMs: 1000, maxEvents: 10 } });
    expect(t.clientEmit).toBe(true);
    expect(t.retention).toEqual({ maxAgeMs: 1000, maxEvents: 10 });
  });

  test('a presentation topic with clientEmit is INVALID_TOPIC', () => {
    const err = feteError(() => defineTopic('ui.toast', { kind: 'presentation', clientEmit: true }));
    expect(err.code).toBe('INVALID_TOPIC');
    expect(err.message).toMatch(/presentation/);
  });

  test.each([
    ['empty', ''],
    ['an empty token', 'orders..status'],
    ['a wildcard', 'orders.*.status'],
    ['a > token', 'orders.>'],
    ['whitespace', 'orders. x'],
    ['a half parameter', 'orders.{orderId.status'],
    ['a parameter inside a token', 'orders.o-{id}.status'],
    ['an empty parameter', 'orders.{}.status'],
    ['a parameter that is not an identifier', 'orders.{order-id}.status'],
    ['a repeated parameter', 'a.{x}.b.{x}'],
    ['17 tokens', Array.from({ length: 17 }, (_, i) => `t${i}`).join('.')],
    ['over 256 bytes', `${'a'.repeat(200)}.${'b'.repeat(60)}`],
  ])('a template with %s is INVALID_TOPIC', (_what, template) => {
    expect(feteError(() => defineTopic(template, { kind: 'domain' })).code).toBe('INVALID_TOPIC');
  });

  test('an unknown kind, a missing options object or a non-Standard schema is INVALID_TOPIC', () => {
    expect(feteError(() => defineTopic('a.b', { kind: 'command' as 'domain' })).code).toBe('INVALID_TOPIC');
    expect(feteError(() => defineTopic('a.b', undefined as never)).code).toBe('INVALID_TOPIC');
    expect(feteError(() => defineTopic('a.b', { kind: 'domain', schema: { parse: () => 1 } as never })).code).toBe('INVALID_TOPIC');
    expect(feteError(() => defineTopic('a.b', { kind: 'domain', schema: null as never })).code).toBe('INVALID_TOPIC');
  });

  test('retention must be positive numbers', () => {
    for (const retention of [{ maxAgeMs: 0 }, { maxEvents: -1 }, { maxAgeMs: Number.NaN }, { maxEvents: Number.POSITIVE_INFINITY }])
      expect(feteError(() => defineTopic('a.b', { kind: 'domain', retention })).code).toBe('INVALID_TOPIC');
  });

  test('16 tokens is a valid template', () => {
    const template = Array.from({ length: 16 }, (_, i) => (i === 3 ? '{id}' : `t${i}`)).join('.');
    expect(defineTopic(template, { kind: 'domain' }).params).toEqual(['id']);
  });
});

describe('defineTopics', () => {
  const a = defineTopic('a.{id}', { kind: 'domain' });
  const b = defineTopic('b.{id}', { kind: 'integration' });

  test('returns a frozen catalogue and topicByName finds topics by template', () => {
    const topics = defineTopics({ a, b });
    expect(Object.isFrozen(topics)).toBe(true);
    expect(topicByName(topics, 'b.{id}')).toBe(b);
    expect(topicByName(topics, 'c.{id}')).toBeUndefined();
  });

  test('the same template under two keys is INVALID_TOPIC', () => {
    const again = defineTopic('a.{id}', { kind: 'presentation' });
    const err = feteError(() => defineTopics({ a, again }));
    expect(err.code).toBe('INVALID_TOPIC');
    expect(err.message).toContain('a.{id}');
  });

  test('an entry that is not a topic is INVALID_TOPIC', () => {
    expect(feteError(() => defineTopics({ a, bad: 'b.*' as never })).code).toBe('INVALID_TOPIC');
    expect(feteError(() => defineTopics({ a, bad: null as never })).code).toBe('INVALID_TOPIC');
  });
});
