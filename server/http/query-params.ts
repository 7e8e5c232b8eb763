// Query-string numbers from untrusted URLs: integers in a range, or 400 MALFORMED. Express leaves
// repeated keys as arrays and nested keys as objects; anything but one string is refused.
import { FeteError } from '../../shared/index.js';

export function intParam(value: unknown, name: string, range: { min: number; max: number }): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = typeof value === 'string' && /^-?\d{1,16}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < range.min || n > range.max)
    throw new FeteError('MALFORMED', `${name} must be an integer from ${range.min} to ${range.max}`);
  return n;
}

export function stringParam(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new FeteError('MALFORMED', `${name} must be given once, as text`);
  return value;
}
