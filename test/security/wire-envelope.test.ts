// decodeWireEnvelope: envelopes sent to browsers as superjson objects are decoded as untrusted
// input, with the same refusals as decodeEnvelope on text (size, prototype keys, depth, meta).
import { describe, expect, it } from 'vitest';
import { createEnvelope, decodeWireEnvelope, defineTopic, encodeEnvelope, toWireEnvelope, type Envelope } from '../../shared/index.js';

const topic = defineTopic('notes.{id}', { kind: 'domain' });
const envelope = (payload: unknown): Envelope => ({ ...createEnvelope(topic, payload as never), seq: 1 });
const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
};

describe('decodeWireEnvelope', () => {
  it('round-trips an envelope, with superjson types (Date, Map, undefined) when meta is present', () => {
    const plain = envelope({ id: 'a', text: 'hi' });
    expect(decodeWireEnvelope(toWireEnvelope(plain))).toEqual(plain);
    const rich = envelope({ id: 'a', at: new Date(0), tags: new Map([['k', 1]]), gone: undefined });
    const wire = toWireEnvelope(rich);
    expect(wire.meta).toBeDefined();
    // As it arrives: parsed JSON, not the objects the server serialized.
    expect(decodeWireEnvelope(JSON.parse(JSON.stringify(wire)))).toEqual(rich);
  });

  it('refuses what is not superjson, or not an envelope', () => {
    for (const bad of ['text', null, 42, [1], { meta: {} }]) expect(codeOf(() => decodeWireEnvelope(bad))).toBe('MALFORMED');
    expect(codeOf(() => decodeWireEnvelope({ json: { id: 'x' } }))).toBe('MALFORMED');
  });

  it('refuses prototype keys at any depth, in json and in meta paths', () => {
    const polluted = JSON.parse('{"json":{"payload":{"a":[{"__proto__":{"x":1}}]}}}') as unknown;
    expect(codeOf(() => decodeWireEnvelope(polluted))).toBe('FORBIDDEN_KEY');
    const wire = JSON.parse(JSON.stringify(toWireEnvelope(envelope({ id: 'a' })))) as { meta?: unknown };
    wire.meta = { values: { 'payload.__proto__.x': ['undefined'] } };
    expect(codeOf(() => decodeWireEnvelope(wire))).toBe('FORBIDDEN_KEY');
  });

  it('refuses typed-array annotations, deep nesting and oversized input, as the text codec does', () => {
    const wire = JSON.parse(JSON.stringify(toWireEnvelope(envelope({ id: 'a', n: 1e9 })))) as { meta?: unknown };
    wire.meta = { values: { 'payload.n': [['typed-array', 'Float64Array']] } };
    expect(codeOf(() => decodeWireEnvelope(wire))).toBe('MALFORMED');
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(codeOf(() => decodeWireEnvelope({ json: deep }))).toBe('MALFORMED');
    const big = toWireEnvelope(envelope({ id: 'a', text: 'x'.repeat(2000) }));
    expect(codeOf(() => decodeWireEnvelope(big, { maxBytes: 1000 }))).toBe('TOO_LARGE');
    // The estimate stays below the text's size: what the text codec accepts passes here too.
    const limit = encodeEnvelope(envelope({ id: 'a', text: 'x'.repeat(2000) })).length;
    expect(decodeWireEnvelope(big, { maxBytes: limit }).seq).toBe(1);
  });
});
