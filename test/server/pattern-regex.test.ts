// Patterns are matched in SQL as regular expressions; they must agree with `matches()` exactly,
// including tokens full of regex metacharacters.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matches } from '../../shared/index.js';
import { patternToRegex } from '../../server/store/pattern-regex.js';

const token = fc.stringMatching(/^[a-z0-9+()[\]{}^$|?\\-]{1,4}$/);
const subject = fc.array(token, { minLength: 1, maxLength: 5 }).map((t) => t.join('.'));
const pattern = fc
  .tuple(fc.array(fc.oneof(token, fc.constant('*')), { minLength: 0, maxLength: 4 }), fc.boolean())
  .filter(([tokens, tail]) => tokens.length > 0 || tail)
  .map(([tokens, tail]) => [...tokens, ...(tail ? ['>'] : [])].join('.'));

describe('patternToRegex', () => {
  it('agrees with matches() on random patterns and subjects', () => {
    fc.assert(
      fc.property(pattern, subject, (p, s) => {
        expect(new RegExp(patternToRegex(p)).test(s)).toBe(matches(p, s));
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees when the subject is the pattern with wildcards filled in', () => {
    fc.assert(
      fc.property(pattern, fc.array(token, { minLength: 1, maxLength: 3 }), (p, fill) => {
        const s = p
          .split('.')
          .map((t, i) => (t === '*' ? fill[i % fill.length]! : t === '>' ? fill.join('.') : t))
          .join('.');
        expect(new RegExp(patternToRegex(p)).test(s)).toBe(true);
        expect(matches(p, s)).toBe(true);
      }),
    );
  });
});
