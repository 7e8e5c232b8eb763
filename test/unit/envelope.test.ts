// Envelopes: createEnvelope validates the payload, fills subject, id, time and headers; the shape
// check refuses anything from outside that is not an envelope.
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { assertEnvelopeShape, createEnvelope, Headers, idempotencyKeyOf, validateHeaders } from '../../shared/envelope.js';
import { FeteError } from '../../shared/errors.js';
import { defineTopic } from '../../shared/topic.js';
import { isUuid } from '../../shared/uuid.js';

const orderStatus = defineTopic('orders.{orderId}.status', {
  kind: 'domain',
  schema: z.object({ orderId: z.string().trim(), status: z.enum(['placed', 'paid']), at: z.coerce.date().default(new Date(0)) }),
});

function feteError(fn: () => unknown): FeteError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FeteError);
    return err as FeteError;
  }
  throw new Error('expected a FeteError');
}

const valid = () => ({
  id: '0190a6b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b',
  topic: 'orders.{orderId}.status',
  subject: 'orders.o-1.status',
  time: '2024-01-01T00:00:00.000Z',
  headers: { tenant: 'acme' },
  payload: { orderId: 'o-1' },
  context: {},
});

describe('createEnvelope', () => {
  test('fills id (UUIDv7), topic, subject, time, headers and context', () => {
    const before = Date.now();
    const env = createEnvelope(orderStatus, { orderId: 'o-17', status: 'paid' });
    expect(env.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(env.topic).toBe('orders.{orderId}.status');
    expect(env.subject).toBe('orders.o-17.status');
    expect(Date.parse(env.time)).toBeGreaterThanOrEqual(before);
    expect(env.time).toBe(new Date(env.time).toISOString());
    expect(env.headers).toEqual({});
    expect(env.context).toEqual({});
    expect(env.seq).toBeUndefined();
    expect(() => assertEnvelopeShape(env)).not.toThrow();
  });

  test('the payload and the subject come from the schema output', () => {
    const env = createEnvelope(orderStatus, { orderId: '  o-17  ', status: 'placed', at: '2024-05-01T00:00:00Z' as unknown as Date });
    expect(env.payload).toEqual({ orderId: 'o-17', status: 'placed', at: new Date('2024-05-01T00:00:00Z') });
    expect(env.subject).toBe('orders.o-17.status');
  });

  test('keeps a given id, headers, context and time', () => {
    const env = createEnvelope(
      orderStatus,
      { orderId: 'o-1', status: 'paid' },
      { id: valid().id, headers: { tenant: 'acme', [Headers.idempotencyKey]: 'k-1' }, context: { user: 'u-1' }, time: new Date(0) },
    );
    expect(env).toMatchObject({ id: valid().id, headers: { tenant: 'acme', 'idempotency-key': 'k-1' }, context: { user: 'u-1' }, time: '1970-01-01T00:00:00.000Z' });
  });

  test('ids differ for every envelope', () => {
    const ids = new Set(Array.from({ length: 100 }, () => createEnvelope(orderStatus, { orderId: 'o', status: 'paid' }).id));
    expect(ids.size).toBe(100);
  });

  test('an invalid payload is INVALID_PAYLOAD and no envelope is made', () => {
    const err = feteError(() => createEnvelope(orderStatus, { orderId: 'o-1', status: 'lost' } as never));
    expect(err.code).toBe('INVALID_PAYLOAD');
  });

  test('a parameter that is not a token is INVALID_PAYLOAD', () => {
    expect(feteError(() => createEnvelope(orderStatus, { orderId: 'a.b', status: 'paid' })).code).toBe('INVALID_PAYLOAD');
  });

  test('an id that is not a UUID, or a non-string header, is MALFORMED', () => {
    expect(feteError(() => createEnvelope(orderStatus, { orderId: 'o', status: 'paid' }, { id: 'x' })).code).toBe('MALFORMED');
    expect(feteError(() => createEnvelope(orderStatus, { orderId: 'o', status: 'paid' }, { headers: { n: 1 as never } })).code).toBe('MALFORMED');
  });

  test('a topic without a schema takes the payload as is', () => {
    const loose = defineTopic('carts.{cartId}', { kind: 'presentation' });
    const payload = { cartId: 7, items: [1, 2] };
    const env = createEnvelope(loose, payload);
    expect(env.payload).toBe(payload);
    expect(env.subject).toBe('carts.7');
  });
});

describe('idempotencyKeyOf', () => {
  test('is the idempotency-key header when given, else the id', () => {
    expect(idempotencyKeyOf({ id: 'i', headers: {} })).toBe('i');
    expect(idempotencyKeyOf({ id: 'i', headers: { 'idempotency-key': 'k' } })).toBe('k');
  });
});

describe('validateHeaders', () => {
  test('accepts a plain object of strings, and undefined as none', () => {
    expect(validateHeaders({ a: 'x' })).toEqual({ a: 'x' });
    expect(validateHeaders(undefined)).toEqual({});
  });

  test('refuses non-string values, arrays, Maps and other non-plain objects', () => {
    for (const h of [{ a: 1 }, { a: null }, ['x'], new Map([['a', 'x']]), new Date(), null, 'a=x'])
      expect(feteError(() => validateHeaders(h)).code).toBe('MALFORMED');
  });
});

describe('assertEnvelopeShape', () => {
  test('accepts a valid envelope, with or without seq', () => {
    expect(() => assertEnvelopeShape(valid())).not.toThrow();
    expect(() => assertEnvelopeShape({ ...valid(), seq: 42 })).not.toThrow();
    expect(() => assertEnvelopeShape({ ...valid(), payload: undefined })).not.toThrow();
  });

  test.each([
    ['not an object', 'x'],
    ['null', null],
    ['an array', [valid()]],
    ['a Map', new Map(Object.entries(valid()))],
    ['no id', { ...valid(), id: undefined }],
    ['a non-UUID id', { ...valid(), id: '17' }],
    ['no topic', { ...valid(), topic: undefined }],
    ['an empty topic', { ...valid(), topic: '' }],
    ['a huge topic', { ...valid(), topic: 'x'.repeat(513) }],
    ['a pattern as subject', { ...valid(), subject: 'orders.*.status' }],
    ['a numeric subject', { ...valid(), subject: 7 }],
    ['a Date as time', { ...valid(), time: new Date() }],
    ['an unparseable time', { ...valid(), time: 'yesterday' }],
    ['no headers', { ...valid(), headers: undefined }],
    ['a non-string header', { ...valid(), headers: { a: 1 } }],
    ['headers as a Map', { ...valid(), headers: new Map() }],
    ['no context', { ...valid(), context: undefined }],
    ['context as an array', { ...valid(), context: [] }],
    ['context as a Map', { ...valid(), context: new Map() }],
    ['a zero seq', { ...valid(), seq: 0 }],
    ['a fractional seq', { ...valid(), seq: 1.5 }],
    ['a string seq', { ...valid(), seq: '1' }],
    ['a bigint seq', { ...valid(), seq: 1n }],
    ['no payload key', (({ payload: _p, ...rest }) => rest)(valid())],
  ])('refuses %s as MALFORMED', (_what, value) => {
    expect(feteError(() => assertEnvelopeShape(value)).code).toBe('MALFORMED');
  });
});
