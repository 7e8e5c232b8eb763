// Revives superjson's `{ json, meta }` form from untrusted input in time linear in its size.
// superjson's own `deserialize` resolves every meta path from the root and walks a Set or Map to
// its n-th entry on each step, so `referentialEqualities` pointing N times into a Set of N entries
// cost N^2 (373 KB took ~3 s). Here every path is resolved once against the parsed JSON tree,
// where Sets and Maps are still plain arrays (index = O(1)), and Sets/Maps are built in one pass
// at the end, so the work is proportional to the input's length. Only the annotations fete's
// codec promises are accepted (undefined, bigint, Date, number, set, map): anything else
// (classes, symbols, typed arrays, errors, regexps, URLs) is refused as MALFORMED.
import { FeteError } from './errors.js';

/** Longest bigint accepted, in decimal digits: BigInt() of a decimal string is superlinear. */
export const MAX_BIGINT_DIGITS = 4096;

type Container = Record<string, unknown> | unknown[];
interface Slot {
  container: Container;
  key: string | number;
}

const bad = (m: string) => new FeteError('MALFORMED', `superjson meta: ${m}`);
const LEAF = new Set(['undefined', 'bigint', 'Date', 'number']);
const NUMBERS: Record<string, number> = { NaN: Number.NaN, Infinity: Number.POSITIVE_INFINITY, '-Infinity': Number.NEGATIVE_INFINITY, '-0': -0 };

/** superjson's path syntax: segments joined by `.`, with `\.` and (v1) `\\` escapes; in legacy
 * paths (meta without `v`, or `v: 0`) a backslash not before a dot is a plain character. */
function parsePath(path: string, legacy: boolean): string[] {
  if (!path.includes('\\')) return path.split('.');
  const segments: string[] = [];
  let segment = '';
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    if (legacy && c === '\\' && path[i + 1] !== '.') segment += c;
    else if (c === '\\') {
      const next = path[i + 1];
      if (next !== '.' && next !== '\\') throw bad(`invalid escape in path "${path.slice(0, 80)}"`);
      segment += next;
      i++;
    } else if (c === '.') {
      segments.push(segment);
      segment = '';
    } else segment += c;
  }
  segments.push(segment);
  return segments;
}

/** The (container, key) a path addresses in the parsed JSON tree: only own keys of objects and
 * in-range integer indexes of arrays (a Set or Map is still its array of entries here). */
function resolve(root: { v: unknown }, segments: readonly string[]): Slot {
  let slot: Slot = { container: root as unknown as Container, key: 'v' };
  for (const s of segments) {
    const value = (slot.container as Record<string, unknown>)[slot.key as string];
    if (Array.isArray(value)) {
      const i = +s;
      if (!(i < value.length && Number.isInteger(i) && i >= 0 && String(i) === s)) throw bad(`path segment "${s.slice(0, 40)}" is not an index of its array`);
      slot = { container: value, key: i };
    } else if (value !== null && typeof value === 'object' && Object.hasOwn(value, s)) {
      slot = { container: value as Record<string, unknown>, key: s };
    } else throw bad(`path segment "${s.slice(0, 40)}" does not exist`);
  }
  return slot;
}

const read = (s: Slot): unknown => (s.container as Record<string, unknown>)[s.key as string];
const write = (s: Slot, v: unknown): void => void ((s.container as Record<string, unknown>)[s.key as string] = v);

function untransformLeaf(type: string, value: unknown): unknown {
  if (type === 'undefined') {
    if (value !== null) throw bad('an undefined annotation must be on null');
    return undefined;
  }
  if (typeof value !== 'string') throw bad(`a ${type} annotation must be on a string`);
  if (type === 'bigint') {
    if (!/^-?\d+$/.test(value) || value.length > MAX_BIGINT_DIGITS + 1) throw bad(`bigint must be at most ${MAX_BIGINT_DIGITS} decimal digits`);
    return BigInt(value);
  }
  if (type === 'Date') return new Date(value);
  if (!Object.hasOwn(NUMBERS, value)) throw bad(`"${value.slice(0, 20)}" is not a special number`);
  return NUMBERS[value];
}

/** Collects `[path segments, annotation]` from superjson's annotation tree (`meta.values`): a node
 * `[annotation, children?]`, or a record of subtrees keyed by (relative) path. Iterative. */
function annotations(values: unknown, legacy: boolean): Array<{ path: string[]; type: string }> {
  const out: Array<{ path: string[]; type: string }> = [];
  const stack: Array<{ tree: unknown; at: string[]; record: boolean }> = [{ tree: values, at: [], record: false }];
  while (stack.length > 0) {
    const { tree, at, record } = stack.pop()!;
    if (tree === null || typeof tree !== 'object') throw bad('an annotation tree must be an object or [annotation, children]');
    if (!record && Array.isArray(tree)) {
      const [type, children, ...rest] = tree as unknown[];
      if (rest.length > 0 || typeof type !== 'string' || !(LEAF.has(type) || type === 'set' || type === 'map'))
        throw bad(`unsupported annotation ${JSON.stringify(type)?.slice(0, 40)} (fete carries undefined, bigint, Date, number, set, map)`);
      if (children !== undefined) stack.push({ tree: children, at, record: true });
      out.push({ path: at, type });
    } else if (Array.isArray(tree)) throw bad('annotation children must be an object');
    else for (const [key, sub] of Object.entries(tree)) stack.push({ tree: sub, at: [...at, ...parsePath(key, legacy)], record: false });
  }
  return out;
}

/** `referentialEqualities`: `{ path: [identical paths] }`, or `[[paths identical to the root], {...}?]`. */
function equalities(meta: unknown, legacy: boolean): Array<{ target: string[]; aliases: string[][] }> {
  if (meta === undefined) return [];
  const out: Array<{ target: string[]; aliases: string[][] }> = [];
  const paths = (list: unknown): string[][] => {
    if (!Array.isArray(list) || !list.every((p) => typeof p === 'string')) throw bad('identical paths must be an array of strings');
    return (list as string[]).map((p) => parsePath(p, legacy));
  };
  const record = (r: unknown) => {
    if (r === null || typeof r !== 'object' || Array.isArray(r)) throw bad('referentialEqualities must map paths to arrays of paths');
    for (const [key, list] of Object.entries(r)) out.push({ target: parsePath(key, legacy), aliases: paths(list) });
  };
  if (Array.isArray(meta)) {
    const [root, other, ...rest] = meta as unknown[];
    if (rest.length > 0) throw bad('referentialEqualities has too many parts');
    out.push({ target: [], aliases: paths(root) });
    if (other !== undefined) record(other);
  } else record(meta);
  return out;
}

/**
 * Revives `json` (freshly parsed: it is changed in place) per `meta`. Throws MALFORMED for a meta
 * this codec did not write (unknown annotations, paths that do not exist, a leaf annotation on the
 * wrong JSON type, two annotations on one value). The result may share subtrees and hold cycles
 * when `referentialEqualities` say so; callers that need a tree check it (see encodable.ts).
 */
export function reviveSuperjson(json: unknown, meta: { values?: unknown; referentialEqualities?: unknown; v?: unknown } | undefined): unknown {
  if (meta === undefined) return json;
  if (meta.v !== undefined && meta.v !== 0 && meta.v !== 1) throw bad('unknown version');
  const legacy = meta.v !== 1;
  const root = { v: json };
  const values = meta.values === undefined ? [] : annotations(meta.values, legacy);
  const links = equalities(meta.referentialEqualities, legacy);
  // 1. Resolve every path before anything changes, so each is a walk over the JSON tree.
  const leaves: Array<{ slot: Slot; type: string }> = [];
  const containers: Array<{ slot: Slot; depth: number }> = [];
  const kinds = new Map<unknown[], 'set' | 'map'>();
  for (const { path, type } of values) {
    const slot = resolve(root, path);
    if (type === 'set' || type === 'map') {
      const value = read(slot);
      if (!Array.isArray(value)) throw bad(`a ${type} annotation must be on an array`);
      if (kinds.has(value)) throw bad('two annotations for one value');
      if (type === 'map' && !value.every((e) => Array.isArray(e) && e.length === 2)) throw bad('a map is an array of [key, value] pairs');
      kinds.set(value, type);
      containers.push({ slot, depth: path.length });
    } else leaves.push({ slot, type }); // a second leaf annotation on one value finds no string there: refused
  }
  const aliasSlots = links.map(({ target, aliases }) => ({ target: resolve(root, target), aliases: aliases.map((a) => resolve(root, a)) }));
  // 2. Leaves in place (Date, bigint...), then links (an alias takes its target's node).
  for (const { slot, type } of leaves) write(slot, untransformLeaf(type, read(slot)));
  for (const { target, aliases } of aliasSlots) {
    const node = read(target);
    for (const a of aliases) write(a, node);
  }
  if (kinds.size === 0) return root.v;
  if (aliasSlots.length === 0) {
    // Still a tree: build the deepest Sets and Maps first, each from its (final) entries, in place.
    containers.sort((a, b) => b.depth - a.depth);
    for (const { slot } of containers) {
      const entries = read(slot) as unknown[];
      write(slot, kinds.get(entries) === 'set' ? new Set(entries) : new Map(entries as Array<[unknown, unknown]>));
    }
    return root.v;
  }
  // 3. Sets and Maps: allocate one per array (shared and cyclic ones included), then fill, each
  // node visited once.
  const built = new Map<unknown[], Set<unknown> | Map<unknown, unknown>>();
  const nodes: object[] = [];
  const seen = new Set<object>();
  const stack: unknown[] = [root.v];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object' || seen.has(v)) continue;
    seen.add(v);
    nodes.push(v);
    if (Array.isArray(v)) {
      const kind = kinds.get(v);
      if (kind !== undefined) built.set(v, kind === 'set' ? new Set() : new Map());
      for (let i = 0; i < v.length; i++) stack.push(v[i]);
    } else if (!(v instanceof Date)) for (const k in v) if (Object.hasOwn(v, k)) stack.push((v as Record<string, unknown>)[k]);
  }
  const final = (v: unknown) => (Array.isArray(v) ? (built.get(v) ?? v) : v);
  for (const node of nodes) {
    const target = Array.isArray(node) ? built.get(node) : undefined;
    if (target instanceof Set) for (const item of node as unknown[]) target.add(final(item));
    else if (target instanceof Map) for (const [k, item] of node as Array<[unknown, unknown]>) target.set(final(k), final(item));
    else if (Array.isArray(node)) for (let i = 0; i < node.length; i++) node[i] = final(node[i]);
    else if (!(node instanceof Date)) for (const k in node) if (Object.hasOwn(node, k)) (node as Record<string, unknown>)[k] = final((node as Record<string, unknown>)[k]);
  }
  return final(root.v);
}
