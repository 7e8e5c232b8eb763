// Presence declarations and state checks, without a server.
import { describe, expect, test } from 'vitest';
import { defineTopic, encodePresenceState, FeteError } from '../../shared/index.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof FeteError) return err.code;
    throw err;
  }
  return 'ok';
}

describe('defineTopic presence', () => {
  test('is off by default and kept when declared on a topic sent to browsers', () => {
    expect(defineTopic('a.{x}', { kind: 'presentation' }).presence).toBe(false);
    expect(defineTopic('a.{x}', { kind: 'presentation', presence: true }).presence).toBe(true);
    expect(defineTopic('a.{x}', { kind: 'domain', expose: true, presence: true }).presence).toBe(true);
  });

  test('a topic that never leaves the server cannot declare presence', () => {
    expect(codeOf(() => defineTopic('a.{x}', { kind: 'domain', presence: true }))).toBe('INVALID_TOPIC');
    expect(codeOf(() => defineTopic('a.{x}', { kind: 'integration', presence: true }))).toBe('INVALID_TOPIC');
    expect(codeOf(() => defineTopic('a.{x}', { kind: 'presentation', presence: 'yes' as never }))).toBe('INVALID_TOPIC');
  });
});

describe('encodePresenceState', () => {
  test('accepts JSON values and returns their text', () => {
    expect(encodePresenceState({ typing: true, cursor: [1, 2], name: 'é', none: null })).toBe('{"typing":true,"cursor":[1,2],"name":"é","none":null}');
    expect(encodePresenceState('x')).toBe('"x"');
  });

  test('refuses what JSON would change, hostile keys, depth and size', () => {
    expect(codeOf(() => encodePresenceState({ at: new Date() }))).toBe('INVALID_PAYLOAD');
    expect(codeOf(() => encodePresenceState({ n: Number.NaN }))).toBe('INVALID_PAYLOAD');
    expect(codeOf(() => encodePresenceState({ f: () => 1 }))).toBe('INVALID_PAYLOAD');
    expect(codeOf(() => encodePresenceState(undefined))).toBe('INVALID_PAYLOAD');
    expect(codeOf(() => encodePresenceState(10n))).toBe('INVALID_PAYLOAD');
    expect(codeOf(() => encodePresenceState(JSON.parse('{"a":{"__proto__":{"x":1}}}')))).toBe('FORBIDDEN_KEY');
    expect(codeOf(() => encodePresenceState({ constructor: 1 }))).toBe('FORBIDDEN_KEY');
    expect(codeOf(() => encodePresenceState([[[[[[[[[[1]]]]]]]]]]))).toBe('INVALID_PAYLOAD');
    expect(codeOf(() => encodePresenceState('é'.repeat(600)))).toBe('TOO_LARGE'); // 1202 bytes in UTF-8
    expect(codeOf(() => encodePresenceState('x'.repeat(1000)))).toBe('ok');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(codeOf(() => encodePresenceState(cyclic))).toBe('INVALID_PAYLOAD');
  });
});

describe('presence at the type level', () => {
  test('defineTopic keeps presence as a literal, and the client types presence patterns by it', () => {
    const on = defineTopic('a.{x}', { kind: 'presentation', presence: true });
    const off = defineTopic('b.{x}', { kind: 'presentation' });
    const onIsTrue: true = on.presence;
    const offIsFalse: false = off.presence;
    expect([onIsTrue, offIsFalse]).toEqual([true, false]);
  });
});
