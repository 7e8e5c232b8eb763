// Subjects and patterns: every syntax rule of DESIGN's vocabulary, and NATS-style matching.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { FeteError, InvalidPatternError, InvalidSubjectError } from '../../shared/errors.js';
import {
  MAX_SUBJECT_BYTES,
  MAX_SUBJECT_TOKENS,
  isLiteralPattern,
  isValidPattern,
  isValidSubject,
  isValidToken,
  matches,
  validatePattern,
  validateSubject,
} from '../../shared/subject.js';

const tokens = (n: number, t = 'a') => Array.from({ length: n }, () => t).join('.');

/** Runs `fn` and returns what it threw (fails the test if it did not throw). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('validateSubject', () => {
  test('accepts ordinary subjects and returns them', () => {
    for (const s of ['orders', 'orders.o-17.status', 'a.b.c', 'ÄÖÜ.日本.🎉', 'x_y-z:1', 'a{b}']) expect(validateSubject(s)).toBe(s);
  });

  test('rejects an empty subject and every empty token', () => {
    for (const s of ['', '.', 'a.', '.a', 'a..b']) expect(() => validateSubject(s), s).toThrow(InvalidSubjectError);
    expect(() => validateSubject('a..b')).toThrow(/empty token/);
  });

  test('rejects *, > and . wildcards inside a subject', () => {
    for (const s of ['orders.*.status', 'orders.>', '>', '*', 'a*b', 'a.b>c', 'a>']) expect(() => validateSubject(s), s).toThrow(InvalidSubjectError);
  });

  test('rejects whitespace and control characters in a token', () => {
    for (const s of ['a b', 'a.\tb', 'a\n', ' a', 'a.b ', 'a\u00a0b', 'a\u2003b', 'a\u0000b', 'a\u007fb', 'a\u3000b'])
      expect(() => validateSubject(s), JSON.stringify(s)).toThrow(InvalidSubjectError);
  });

  test(`accepts ${MAX_SUBJECT_TOKENS} tokens and rejects ${MAX_SUBJECT_TOKENS + 1}`, () => {
    expect(MAX_SUBJECT_TOKENS).toBe(16);
    expect(validateSubject(tokens(16))).toBe(tokens(16));
    expect(() => validateSubject(tokens(17))).toThrow(/17 tokens/);
  });

  test(`accepts ${MAX_SUBJECT_BYTES} bytes and rejects ${MAX_SUBJECT_BYTES + 1}`, () => {
    expect(MAX_SUBJECT_BYTES).toBe(256);
    expect(validateSubject('a'.repeat(256))).toHaveLength(256);
    expect(() => validateSubject('a'.repeat(257))).toThrow(InvalidSubjectError);
    expect(validateSubject(`${'a'.repeat(127)}.${'b'.repeat(128)}`)).toHaveLength(256);
  });

  test('counts the byte limit in UTF-8, not UTF-16 units', () => {
    // 'é' is 2 bytes, '€' 3, '🎉' 4 (2 UTF-16 units).
    expect(() => validateSubject('é'.repeat(128))).not.toThrow();
    expect(() => validateSubject('é'.repeat(128) + 'x')).toThrow(/256 bytes/);
    expect(() => validateSubject('€'.repeat(85) + 'x')).not.toThrow(); // 256 bytes in 86 units
    expect(() => validateSubject('€'.repeat(85) + 'xy')).toThrow(InvalidSubjectError); // 257 bytes
    expect(() => validateSubject('🎉'.repeat(64))).not.toThrow();
    expect(() => validateSubject('🎉'.repeat(64) + 'x')).toThrow(InvalidSubjectError);
  });

  test('a non-string input is a typed error, not a TypeError', () => {
    for (const v of [undefined, null, 17, {}, ['a'], Symbol('s'), 1n]) {
      const err = thrown(() => validateSubject(v));
      expect(err).toBeInstanceOf(InvalidSubjectError);
      expect(err).toBeInstanceOf(FeteError);
      expect((err as FeteError).code).toBe('INVALID_SUBJECT');
      expect((err as FeteError).message).toMatch(/must be a string/);
    }
  });

  test('the error carries the offending subject in its details and is not retryable', () => {
    const err = thrown(() => validateSubject('a..b')) as InvalidSubjectError;
    expect(err.details).toEqual({ subject: 'a..b' });
    expect(err.retryable).toBe(false);
    expect(err.name).toBe('InvalidSubjectError');
  });

  test('isValidSubject answers without throwing', () => {
    expect(isValidSubject('a.b')).toBe(true);
    expect(isValidSubject('a.*')).toBe(false);
    expect(isValidSubject(42)).toBe(false);
  });
});

describe('validatePattern', () => {
  test('accepts subjects and wildcard patterns', () => {
    for (const p of ['orders.*.status', 'orders.>', '>', '*', '*.*', '*.>', 'a.b.c', 'orders.o-17.status'])
      expect(validatePattern(p)).toBe(p);
  });

  test('> may only be the last token', () => {
    for (const p of ['>.a', 'orders.>.status', '>.>', '>.*']) expect(() => validatePattern(p), p).toThrow(/may only be the last/);
  });

  test('* and > inside a token are rejected', () => {
    for (const p of ['orders.o*.status', 'a*', '*a', 'a.b>', '>a', 'a.**', 'a.>>']) expect(() => validatePattern(p), p).toThrow(InvalidPatternError);
  });

  test('empty tokens, whitespace and the size limits apply to patterns as to subjects', () => {
    for (const p of ['', 'a..b', '.>', 'a.', 'a *', 'a.\t.b']) expect(() => validatePattern(p), JSON.stringify(p)).toThrow(InvalidPatternError);
    expect(validatePattern(tokens(16, '*'))).toBe(tokens(16, '*'));
    expect(() => validatePattern(tokens(17, '*'))).toThrow(InvalidPatternError);
    expect(() => validatePattern(`${tokens(16, '*')}.>`)).toThrow(InvalidPatternError);
    expect(() => validatePattern('é'.repeat(128) + '.>')).toThrow(/256 bytes/);
  });

  test('a non-string input is a typed error', () => {
    for (const v of [undefined, null, 3, { pattern: '>' }]) {
      const err = thrown(() => validatePattern(v));
      expect(err).toBeInstanceOf(InvalidPatternError);
      expect((err as FeteError).code).toBe('INVALID_PATTERN');
    }
  });

  test('isValidPattern and isLiteralPattern', () => {
    expect(isValidPattern('a.*')).toBe(true);
    expect(isValidPattern('a.>.b')).toBe(false);
    expect(isLiteralPattern('orders.o-17.status')).toBe(true);
    expect(isLiteralPattern('orders.*.status')).toBe(false);
    expect(isLiteralPattern('orders.>')).toBe(false);
    expect(isLiteralPattern('*')).toBe(false);
  });
});

describe('isValidToken', () => {
  test('a token is non-empty with no dot, wildcard or whitespace', () => {
    expect(isValidToken('o-17')).toBe(true);
    expect(isValidToken('日本')).toBe(true);
    for (const t of ['', 'a.b', '*', '>', 'a b', ' ', '\n', 'a*']) expect(isValidToken(t), JSON.stringify(t)).toBe(false);
  });
});

describe('matches', () => {
  const cases: Array<[pattern: string, subject: string, expected: boolean]> = [
    ['orders.*.status', 'orders.o-17.status', true],
    ['orders.*.status', 'orders.o-17.created', false],
    ['orders.*.status', 'orders.status', false],
    ['orders.*.status', 'orders.a.b.status', false],
    ['orders.>', 'orders.o-17', true],
    ['orders.>', 'orders.o-17.status.x', true],
    ['orders.>', 'orders', false],
    ['orders.*.>', 'orders.o-17', false],
    ['orders.*.>', 'orders.o-17.status', true],
    ['>', 'a', true],
    ['>', 'a.b.c', true],
    ['*', 'a', true],
    ['*', 'a.b', false],
    ['*.*', 'a.b', true],
    ['a.b', 'a.b', true],
    ['a.b', 'a.bb', false],
    ['a.b', 'a', false],
    ['a', 'a.b', false],
    ['*.b.>', 'x.b.y', true],
    ['*.b.>', 'x.c.y', false],
  ];
  test.each(cases)('%s against %s is %s', (pattern, subject, expected) => {
    expect(matches(pattern, subject)).toBe(expected);
  });

  test('a literal pattern matches exactly itself (property)', () => {
    const token = fc.stringMatching(/^[a-z0-9_-]{1,6}$/);
    const subject = fc.array(token, { minLength: 1, maxLength: 8 }).map((t) => t.join('.'));
    fc.assert(
      fc.property(subject, subject, (a, b) => {
        expect(matches(a, b)).toBe(a === b);
      }),
      { numRuns: 500 },
    );
  });

  test('replacing tokens by * keeps a match, and > matches every longer subject (property)', () => {
    const token = fc.stringMatching(/^[a-z0-9]{1,4}$/);
    fc.assert(
      fc.property(fc.array(token, { minLength: 1, maxLength: 10 }), fc.array(fc.boolean(), { minLength: 10, maxLength: 10 }), fc.nat(9), (ts, stars, cut) => {
        const subject = ts.join('.');
        const starred = ts.map((t, i) => (stars[i] ? '*' : t)).join('.');
        expect(matches(starred, subject)).toBe(true);
        const k = cut % ts.length;
        const prefix = ts.slice(0, k);
        expect(matches([...prefix, '>'].join('.'), subject)).toBe(true);
        expect(matches([...ts, '>'].join('.'), subject)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});

describe('the regex fast path agrees with the rules', () => {
  // Reference straight from DESIGN's vocabulary, token by token.
  const tokenOk = (t: string) => t.length > 0 && !/[.*>\s\u0000-\u001f\u007f]/u.test(t);
  const bytes = (s: string) => new TextEncoder().encode(s).length;
  const refSubject = (s: string) => {
    const ts = s.split('.');
    return s.length > 0 && bytes(s) <= 256 && ts.length <= 16 && ts.every(tokenOk);
  };
  const refPattern = (s: string) => {
    const ts = s.split('.');
    return (
      s.length > 0 && bytes(s) <= 256 && ts.length <= 16 &&
      ts.every((t, i) => t === '*' || (t === '>' && i === ts.length - 1) || tokenOk(t))
    );
  };
  const alphabet = fc.constantFrom('a', 'b', '.', '.', '*', '>', ' ', '\t', 'é', '😀', '\u0001', 'x'.repeat(40));
  const text = fc.array(alphabet, { maxLength: 40 }).map((parts) => parts.join(''));

  test('validateSubject / isValidSubject accept exactly the rule-valid subjects', () => {
    fc.assert(
      fc.property(text, (s) => {
        const ok = refSubject(s);
        expect(isValidSubject(s)).toBe(ok);
        if (ok) expect(validateSubject(s)).toBe(s);
        else expect(() => validateSubject(s)).toThrow(InvalidSubjectError);
      }),
      { numRuns: 3000 },
    );
  });

  test('validatePattern / isValidPattern accept exactly the rule-valid patterns', () => {
    fc.assert(
      fc.property(text, (s) => {
        const ok = refPattern(s);
        expect(isValidPattern(s)).toBe(ok);
        if (ok) expect(validatePattern(s)).toBe(s);
        else expect(() => validatePattern(s)).toThrow(InvalidPatternError);
      }),
      { numRuns: 3000 },
    );
  });
});
