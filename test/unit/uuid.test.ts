// UUIDv7 ids: RFC 9562 layout (version 7, variant 10), the embedded millisecond time, and strictly
// increasing order from one process even when thousands are made in the same millisecond.
import { describe, expect, test } from 'vitest';
import { isUuid, uuidv7 } from '../../shared/uuid.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The 48-bit unix milliseconds at the front of a UUIDv7. */
const msOf = (id: string) => Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16);

describe('uuidv7', () => {
  test('has the v7 layout: lowercase hex, version nibble 7, variant bits 10', () => {
    for (let i = 0; i < 1000; i++) {
      const id = uuidv7();
      expect(id).toMatch(V7);
      const bytes = id.replace(/-/g, '');
      expect(Number.parseInt(bytes[12]!, 16)).toBe(7);
      expect(Number.parseInt(bytes[16]!, 16) >> 2).toBe(0b10);
    }
  });

  test('embeds the creation time in milliseconds', () => {
    const before = Date.now();
    const id = uuidv7();
    const after = Date.now();
    expect(msOf(id)).toBeGreaterThanOrEqual(before);
    expect(msOf(id)).toBeLessThanOrEqual(after + 1);
    const fixed = Date.now() + 10_000;
    expect(msOf(uuidv7(fixed))).toBe(fixed);
  });

  test('10,000 ids made in one millisecond are unique and strictly increasing', () => {
    const now = Date.now() + 20_000; // later than any id made so far in this process
    const ids = Array.from({ length: 10_000 }, () => uuidv7(now));
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!, `${ids[i - 1]} < ${ids[i]}`).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(V7);
    // the 12-bit counter overflows past 4096 ids and borrows the next milliseconds
    expect(msOf(ids[0]!)).toBe(now);
    expect(msOf(ids.at(-1)!)).toBeGreaterThan(now);
    expect(msOf(ids.at(-1)!)).toBeLessThanOrEqual(now + 3);
  });

  test('stays increasing when the clock goes backwards', () => {
    const now = Date.now() + 30_000;
    const a = uuidv7(now);
    const b = uuidv7(now - 5_000);
    const c = uuidv7(now - 10_000);
    expect(a < b && b < c).toBe(true);
    expect(msOf(c)).toBe(now);
  });

  test('ids made across milliseconds sort in time order', () => {
    const base = Date.now() + 40_000;
    const ids = [0, 1, 2, 50, 1000].map((d) => uuidv7(base + d));
    expect([...ids].sort()).toEqual(ids);
  });
});

describe('isUuid', () => {
  test('accepts any RFC 9562 UUID shape, in either case', () => {
    expect(isUuid(uuidv7())).toBe(true);
    expect(isUuid('4F2A8C1E-9B3D-4E5F-8A7B-1C2D3E4F5A6B')).toBe(true);
    expect(isUuid('00000000-0000-0000-0000-000000000000')).toBe(true);
  });

  test('rejects anything else', () => {
    for (const v of ['', 'not-a-uuid', '4f2a8c1e9b3d4e5f8a7b1c2d3e4f5a6b', '4f2a8c1e-9b3d-4e5f-8a7b-1c2d3e4f5a6', `${uuidv7()}\n`, 1, null, undefined, {}])
      expect(isUuid(v), String(v)).toBe(false);
  });
});
