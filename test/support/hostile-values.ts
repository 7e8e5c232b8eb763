// Values a listener (or any hook) can throw that break naive error handling: each is a member of
// the "hostile thrown value" class (issue 9 item 5), with what its description must say. Shared by
// the describeThrown unit tests, the store suite (durable dispatch) and the inline dispatch tests.

const trap = (): never => {
  throw new Error('trap');
};

/** A Proxy whose every trap throws (instanceof, property reads, `in`, keys, descriptors...). */
function throwingProxy(): object {
  return new Proxy(
    {},
    {
      get: trap,
      has: trap,
      ownKeys: trap,
      getOwnPropertyDescriptor: trap,
      getPrototypeOf: trap,
      setPrototypeOf: trap,
      isExtensible: trap,
      preventExtensions: trap,
      defineProperty: trap,
      deleteProperty: trap,
      set: trap,
    },
  );
}

export interface HostileValue {
  name: string;
  /** A fresh value each call (a revoked Proxy, a cycle). */
  make(): unknown;
  /** What the recorded text must contain. */
  described: RegExp;
}

export const HOSTILE_VALUES: readonly HostileValue[] = [
  { name: 'an object with no prototype', make: () => Object.create(null), described: /thrown object \(null prototype\)/ },
  {
    name: 'a null-prototype object with data',
    make: () => Object.assign(Object.create(null) as object, { code: 'E_NULL' }),
    described: /E_NULL/,
  },
  { name: 'a Proxy that throws on every access', make: throwingProxy, described: /thrown object \(unreadable\)/ },
  {
    name: 'a revoked Proxy',
    make: () => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return proxy;
    },
    described: /thrown object \(unreadable\)/,
  },
  {
    name: 'an Error whose stack getter throws',
    make: () => Object.defineProperty(new Error('the real message'), 'stack', { get: trap }),
    described: /Error: the real message/,
  },
  {
    name: 'an Error whose message getter throws',
    make: () => Object.defineProperty(new TypeError('hidden'), 'message', { get: trap }),
    described: /TypeError: \(unreadable message\)/,
  },
  {
    name: 'an object whose toString, valueOf and Symbol.toPrimitive throw',
    make: () => ({ toString: trap, valueOf: trap, [Symbol.toPrimitive]: trap, reason: 'no-text' }),
    described: /thrown object: .*"reason":"no-text"/,
  },
  { name: 'a huge string', make: () => `huge:${'x'.repeat(5_000_000)}`, described: /^huge:x{100}/ },
  {
    name: 'a cyclic object',
    make: () => {
      const a: Record<string, unknown> = { name: 'loop' };
      a.self = a;
      return a;
    },
    described: /"self":\[Circular\]/,
  },
  {
    name: 'a Promise',
    make: () => {
      const p = Promise.reject(new Error('inside the thrown promise'));
      p.catch(() => undefined);
      return p;
    },
    described: /thrown Promise/,
  },
  { name: 'undefined', make: () => undefined, described: /thrown undefined/ },
  { name: 'a symbol', make: () => Symbol('sym-reason'), described: /thrown symbol: Symbol\(sym-reason\)/ },
  { name: 'a BigInt', make: () => 12345678901234567890n, described: /thrown bigint: 12345678901234567890n/ },
  { name: 'an Error with a NUL byte in its message', make: () => new Error('before\u0000after'), described: /before\\0after/ },
  { name: 'a string with a lone surrogate', make: () => `half \uD800 a pair`, described: /half \uFFFD a pair/ },
];
