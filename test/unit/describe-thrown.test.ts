// describeThrown and FeteError.from: any thrown value becomes bounded text that SQL can store,
// without throwing, and a FeteError made from it can be printed later.
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { describeThrown, inspectThrown } from '../../shared/describe-thrown.js';
import { FeteError, isFeteError } from '../../shared/index.js';
import { HOSTILE_VALUES } from '../support/hostile-values.js';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe('describeThrown', () => {
  for (const v of HOSTILE_VALUES) {
    it(`describes ${v.name} without throwing, bounded, as storable text`, () => {
      const text = describeThrown(v.make());
      expect(text).toMatch(v.described);
      expect(text.length).toBeLessThanOrEqual(4000);
      expect(text).not.toContain('\u0000');
      expect(text).not.toMatch(LONE_SURROGATE);
    });

    it(`FeteError.from(${v.name}) never throws and the error can be printed`, () => {
      const e = FeteError.from(v.make());
      expect(e.code).toBe('INTERNAL');
      expect(typeof e.message).toBe('string');
      expect(e.message.length).toBeLessThanOrEqual(4000);
      expect(() => inspect(e)).not.toThrow();
      expect(() => JSON.stringify(e)).not.toThrow();
    });
  }

  it('an Error is its stack, with the stacks of its causes', () => {
    const err = new Error('outer', { cause: new TypeError('inner') });
    const text = describeThrown(err);
    expect(text.startsWith('Error: outer\n    at ')).toBe(true);
    expect(text).toMatch(/caused by: TypeError: inner\n {4}at /);
    expect(describeThrown(err, { stack: false })).toBe('Error: outer');
  });

  it('a thrown string is kept as it is', () => {
    expect(describeThrown('plain words')).toBe('plain words');
  });

  it('a wide or deep object is cut to the length limit', () => {
    const wide = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, 'v'.repeat(300)]));
    const text = describeThrown(wide, { maxLength: 500 });
    expect(text.length).toBeLessThanOrEqual(500);
    expect(text).toMatch(/^thrown object: \{"k0":"v+…"/);
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 10_000; i++) deep = { deep };
    expect(describeThrown(deep)).toBe('thrown object: {"deep":{"deep":{"deep":{…}}}}');
  });

  it('getters of a thrown plain object are not called', () => {
    let called = false;
    const text = describeThrown({
      get secret() {
        called = true;
        return 'x';
      },
    });
    expect(called).toBe(false);
    expect(text).toBe('thrown object: {"secret":[Getter]}');
  });

  it('a value whose reading throws is reported as hostile', () => {
    expect(inspectThrown(HOSTILE_VALUES.find((v) => v.name.startsWith('a Proxy'))!.make()).hostile).toBe(true);
    expect(inspectThrown(new Error('fine')).hostile).toBe(false);
  });
});

describe('FeteError.from', () => {
  it('keeps an ordinary Error as cause and its message as the message', () => {
    const err = new RangeError('out of range');
    const e = FeteError.from(err, 'STORE_UNAVAILABLE');
    expect(e).toMatchObject({ code: 'STORE_UNAVAILABLE', message: 'out of range', retryable: true });
    expect(e.cause).toBe(err);
  });

  it('passes a FeteError through', () => {
    const err = new FeteError('FORBIDDEN', 'no');
    expect(FeteError.from(err)).toBe(err);
  });

  it('does not keep a hostile value as cause, but its description', () => {
    const proxy = HOSTILE_VALUES.find((v) => v.name.startsWith('a Proxy'))!.make();
    const e = FeteError.from(proxy);
    expect(e.cause).toBeInstanceOf(Error);
    expect((e.cause as Error).message).toMatch(/hostile thrown value.*unreadable/);
  });

  it('isFeteError is false for a Proxy whose traps throw', () => {
    expect(isFeteError(HOSTILE_VALUES.find((v) => v.name.startsWith('a Proxy'))!.make())).toBe(false);
  });
});
