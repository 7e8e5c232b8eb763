// Subjects and patterns: the one place where their syntax is checked (see DESIGN "Vocabulary").
// A subject is dot-separated tokens; a pattern may also use `*` (one token) and a final `>`
// (one or more tokens). Validation happens at the edge; matching assumes valid input.
import { InvalidPatternError, InvalidSubjectError } from './errors.js';

export const MAX_SUBJECT_TOKENS = 16;
export const MAX_SUBJECT_BYTES = 256;

// A token may not hold `.`, `*`, `>`, whitespace, control characters (which no log line or
// header should ever carry), or a lone surrogate: the store would keep it as U+FFFD, so that
// 'a\ud800' and 'a\udc00' were one latest value and a replayed subject was not the emitted one
// (storable-text.ts). In a `u` regex the range \ud800-\udfff matches only unpaired surrogates.
// Checked with one regex: faster than a per-char loop in V8.
const BAD_TOKEN_CHAR = /[.*>\s\u0000-\u001f\u007f\ud800-\udfff]/u;
const encoder = new TextEncoder();

function byteLength(s: string): number {
  // ASCII fast path: most subjects are ASCII, and then bytes === UTF-16 units.
  // eslint-disable-next-line no-control-regex
  return /^[\u0000-\u007f]*$/.test(s) ? s.length : encoder.encode(s).length;
}

/** True when `token` can stand as one subject token (also used for template parameter values). */
export function isValidToken(token: string): boolean {
  return token.length > 0 && !BAD_TOKEN_CHAR.test(token);
}

function checkShape(s: unknown, what: 'subject' | 'pattern'): string[] {
  const fail = (m: string) =>
    what === 'subject'
      ? new InvalidSubjectError(m, { details: { subject: s } })
      : new InvalidPatternError(m, { details: { pattern: s } });
  if (typeof s !== 'string') throw fail(`${what} must be a string, got ${typeof s}`);
  if (s.length === 0) throw fail(`${what} is empty`);
  if (byteLength(s) > MAX_SUBJECT_BYTES) throw fail(`${what} is longer than ${MAX_SUBJECT_BYTES} bytes`);
  const tokens = s.split('.');
  if (tokens.length > MAX_SUBJECT_TOKENS)
    throw fail(`${what} "${s}" has ${tokens.length} tokens; at most ${MAX_SUBJECT_TOKENS}`);
  return tokens;
}

// Fast paths: one regex answers "valid" for the common case (~20M/s against ~4M/s for the
// split-per-token walk, measured by the bus helper); only input that fails it, or that might be
// over the byte limit, takes the slow walk below, which also words the error.
const TOKEN = '[^.*>\\s\\u0000-\\u001f\\u007f\\ud800-\\udfff]+';
const SUBJECT_RE = new RegExp(`^${TOKEN}(?:\\.${TOKEN}){0,${MAX_SUBJECT_TOKENS - 1}}$`, 'u');
const PATTERN_TOKEN = `(?:${TOKEN}|\\*)`;
const PATTERN_RE = new RegExp(`^(?:>|${PATTERN_TOKEN}(?:\\.${PATTERN_TOKEN}){0,${MAX_SUBJECT_TOKENS - 2}}(?:\\.(?:${PATTERN_TOKEN}|>))?)$`, 'u');
// At most 3 UTF-8 bytes per UTF-16 unit: strings this short are always within the byte limit.
const SURELY_SHORT = Math.floor(MAX_SUBJECT_BYTES / 3);

function fastValid(s: unknown, re: RegExp): boolean {
  return typeof s === 'string' && s.length <= MAX_SUBJECT_BYTES && (s.length <= SURELY_SHORT || byteLength(s) <= MAX_SUBJECT_BYTES) && re.test(s);
}

/** Throws InvalidSubjectError unless `subject` is a valid subject. Returns it for chaining. */
export function validateSubject(subject: unknown): string {
  if (fastValid(subject, SUBJECT_RE)) return subject as string;
  const tokens = checkShape(subject, 'subject');
  for (const t of tokens) {
    if (!isValidToken(t))
      throw new InvalidSubjectError(
        t.length === 0
          ? `subject "${subject as string}" has an empty token`
          : `subject "${subject as string}" has an invalid token "${t}"`,
        { details: { subject } },
      );
  }
  return subject as string;
}

/** Throws InvalidPatternError unless `pattern` is a valid pattern. Returns it for chaining. */
export function validatePattern(pattern: unknown): string {
  if (fastValid(pattern, PATTERN_RE)) return pattern as string;
  const tokens = checkShape(pattern, 'pattern');
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t === '*') continue;
    if (t === '>') {
      if (i === tokens.length - 1) continue;
      throw new InvalidPatternError(`pattern "${pattern as string}": ">" may only be the last token`, {
        details: { pattern },
      });
    }
    if (!isValidToken(t))
      throw new InvalidPatternError(
        t.length === 0
          ? `pattern "${pattern as string}" has an empty token`
          : `pattern "${pattern as string}" has an invalid token "${t}"`,
        { details: { pattern } },
      );
  }
  return pattern as string;
}

export function isValidSubject(subject: unknown): subject is string {
  if (fastValid(subject, SUBJECT_RE)) return true;
  try {
    validateSubject(subject);
    return true;
  } catch {
    return false;
  }
}

export function isValidPattern(pattern: unknown): pattern is string {
  if (fastValid(pattern, PATTERN_RE)) return true;
  try {
    validatePattern(pattern);
    return true;
  } catch {
    return false;
  }
}

/** True when the pattern has no wildcard, i.e. it matches exactly one subject. */
export function isLiteralPattern(pattern: string): boolean {
  return !/(^|\.)[*>](\.|$)/.test(pattern);
}

/** Whether `pattern` matches `subject`. Both must already be valid (use validate* at the edge). */
export function matches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    const pt = p[i]!;
    if (pt === '>') return s.length > i;
    if (i >= s.length) return false;
    if (pt !== '*' && pt !== s[i]) return false;
  }
  return p.length === s.length;
}
