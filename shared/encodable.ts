// Fidelity: what an emit accepts is what every receiver gets. The codec (superjson) carries plain
// objects, arrays, strings, booleans, null, finite and special numbers (NaN, ±Infinity, -0),
// undefined, bigint, valid Dates, Maps and Sets. Everything else would arrive changed (an invalid
// Date as null, a sparse hole as null, a cycle cut, a function or symbol dropped, a class instance
// as a plain object, a getter as its value of the moment), so it is refused here, at emit, with
// INVALID_PAYLOAD naming the path. One walk, each value once: linear in the payload's size.
import { FeteError } from './errors.js';

/** Deepest nesting of a payload: envelopes decoded from the wire may nest 64 levels, and the
 * envelope and superjson's `{ json }` take two of them. */
export const MAX_PAYLOAD_DEPTH = 60;

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function pathText(path: ReadonlyArray<string | number>): string {
  return path.length === 0 ? '(root)' : path.map((p) => (typeof p === 'number' ? `[${p}]` : /^[A-Za-z_$][\w$]*$/.test(p) ? `.${p}` : `[${JSON.stringify(p)}]`)).join('').replace(/^\./, '');
}

function refuse(path: ReadonlyArray<string | number>, what: string, topic?: string): FeteError {
  const where = pathText(path);
  return new FeteError('INVALID_PAYLOAD', `${topic === undefined ? '' : `topic "${topic}": `}payload at ${where} ${what}`, {
    details: { path: [...path], ...(topic === undefined ? {} : { topic }) },
  });
}

function isPlainPrototype(proto: unknown): boolean {
  return proto === Object.prototype || proto === null;
}

/** Names the kind of an object the codec does not carry, for the error message. */
function kindOf(value: object): string {
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== '' ? `a ${name}` : 'an object with a custom prototype';
}

/**
 * Throws unless `value` reaches every receiver unchanged through fete's codec:
 * INVALID_PAYLOAD (with `details.path`) for a function, symbol, invalid Date, sparse array hole,
 * cycle, accessor property, symbol key, non-enumerable property, extra property on an array, Date,
 * Map or Set, an instance of any other class (Error, RegExp, URL, typed arrays, Promise...), or
 * nesting past `maxDepth`; FORBIDDEN_KEY for a `__proto__`, `constructor` or `prototype` key.
 * Shared subtrees (the same object twice, not a cycle) are carried and pass; the encoding repeats
 * them, so the returned size and the depth check count every occurrence (memoized per object, so
 * a small object graph that would expand exponentially is measured, not walked).
 * @returns an estimate of the encoded size, below the JSON text's length: one unit per value plus
 *   the lengths of strings and keys (as the wire decoder's bound counts them).
 */
export function assertEncodable(value: unknown, options: { topic?: string; maxDepth?: number } = {}): number {
  const maxDepth = options.maxDepth ?? MAX_PAYLOAD_DEPTH;
  const topic = options.topic;
  // Depth-first with an explicit stack; `onPath` holds the objects of the current path (cycles).
  // Post-order frames (`exit`) compute each object's expanded size and height from its children's.
  const onPath = new Set<object>();
  const done = new Map<object, { size: number; height: number }>();
  type Frame = { value: unknown; path: Array<string | number>; exit?: object; kids?: unknown[]; own?: number };
  const stack: Frame[] = [{ value, path: [] }];
  const measure = (v: unknown): { size: number; height: number } =>
    v !== null && typeof v === 'object' ? done.get(v)! : { size: 1 + (typeof v === 'string' ? v.length : typeof v === 'bigint' ? 24 : 0), height: 0 };
  while (stack.length > 0) {
    const frame = stack.pop()!;
    if (frame.exit !== undefined) {
      let size = frame.own!;
      let height = 0;
      for (const kid of frame.kids!) {
        const m = measure(kid);
        size += m.size;
        if (m.height > height) height = m.height;
      }
      onPath.delete(frame.exit);
      done.set(frame.exit, { size, height: height + 1 });
      continue;
    }
    const { value: v, path } = frame;
    const t = typeof v;
    if (t === 'function') throw refuse(path, 'is a function, which cannot be sent', topic);
    if (t === 'symbol') throw refuse(path, 'is a symbol, which cannot be sent', topic);
    if (v === null || t !== 'object') continue;
    const o = v as object;
    if (onPath.has(o)) throw refuse(path, 'refers back to an enclosing object (a cycle), which cannot be sent', topic);
    const shared = done.get(o);
    if (shared !== undefined) {
      // Checked already; its copy here must still fit the depth limit.
      if (path.length + shared.height > maxDepth + 1) throw refuse(path, `is nested deeper than ${maxDepth} levels`, topic);
      continue;
    }
    if (path.length > maxDepth) throw refuse(path, `is nested deeper than ${maxDepth} levels`, topic);
    const children: Array<[string | number, unknown]> = [];
    const proto: unknown = Object.getPrototypeOf(o);
    if (Array.isArray(o)) {
      if (proto !== Array.prototype) throw refuse(path, `is ${kindOf(o)} (an Array subclass), which cannot be sent`, topic);
      const keys = Reflect.ownKeys(o);
      if (keys.length !== o.length + 1) {
        for (let i = 0; i < o.length; i++) if (!Object.hasOwn(o, i)) throw refuse([...path, i], 'is a hole in a sparse array; use undefined or null', topic);
        const extra = keys.find((k) => k !== 'length' && !(typeof k === 'string' && /^(0|[1-9]\d*)$/.test(k) && Number(k) < o.length));
        throw refuse(path, `is an array with an extra property ${String(extra)}, which cannot be sent`, topic);
      }
      for (let i = 0; i < o.length; i++) {
        const d = Object.getOwnPropertyDescriptor(o, i)!;
        if (!('value' in d)) throw refuse([...path, i], 'is a getter, which cannot be sent (pass its value)', topic);
        children.push([i, d.value]);
      }
    } else if (o instanceof Date || o instanceof Map || o instanceof Set) {
      const ctor = o instanceof Date ? Date : o instanceof Map ? Map : Set;
      if (proto !== ctor.prototype) throw refuse(path, `is ${kindOf(o)} (a ${ctor.name} subclass), which cannot be sent`, topic);
      if (Reflect.ownKeys(o).length > 0) throw refuse(path, `is a ${ctor.name} with extra properties, which cannot be sent`, topic);
      if (o instanceof Date) {
        if (Number.isNaN(o.getTime())) throw refuse(path, 'is an invalid Date, which cannot be sent', topic);
      } else if (o instanceof Map) {
        let i = 0;
        for (const [k, item] of o) {
          children.push([`${i}:key`, k], [`${i}:value`, item]);
          i++;
        }
      } else {
        let i = 0;
        for (const item of o) children.push([`${i++}`, item]);
      }
    } else {
      if (!isPlainPrototype(proto)) throw refuse(path, `is ${kindOf(o)}, which cannot be sent (send a plain object)`, topic);
      for (const key of Reflect.ownKeys(o)) {
        if (typeof key === 'symbol') throw refuse(path, `has a symbol key ${String(key)}, which cannot be sent`, topic);
        if (FORBIDDEN_KEYS.has(key))
          throw new FeteError('FORBIDDEN_KEY', `${topic === undefined ? '' : `topic "${topic}": `}forbidden key "${key}" at ${pathText(path)}`, {
            details: { path: [...path, key], ...(topic === undefined ? {} : { topic }) },
          });
        const d = Object.getOwnPropertyDescriptor(o, key)!;
        if (!('value' in d)) throw refuse([...path, key], 'is a getter or setter, which cannot be sent (pass its value)', topic);
        if (!d.enumerable) throw refuse([...path, key], 'is a non-enumerable property, which would not be sent', topic);
        children.push([key, d.value]);
      }
    }
    onPath.add(o);
    let own = 1;
    if (o instanceof Date) own += 24;
    else if (!Array.isArray(o) && !(o instanceof Map) && !(o instanceof Set)) for (const [key] of children) own += (key as string).length;
    stack.push({ value: undefined, path, exit: o, kids: children.map((c) => c[1]), own });
    for (let i = children.length - 1; i >= 0; i--) stack.push({ value: children[i]![1], path: [...path, children[i]![0]] });
  }
  return measure(value).size;
}
