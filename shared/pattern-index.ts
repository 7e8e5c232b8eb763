// PatternIndex: every value whose pattern matches a subject. The router under the bus, the fanout
// and durable listener lookup: many patterns (NATS style, `*` and a final `>`), one subject at a time.
import { MAX_SUBJECT_BYTES, validatePattern } from './subject.js';

export interface PatternIndexOptions {
  /** How many subjects' results the match cache may hold; 0 turns it off. See "Result cache".
   * @default 4096 */
  cacheSize?: number;
}

// --- Data structure ------------------------------------------------------------------------
// A token trie: one node per pattern prefix, a `*` child apart from the literal children, and at
// each node the values of patterns that end there (`exact`) or end there with `>` (`rest`).
//
// Literal children are keyed by a 30-bit FNV-1a hash of the token, not by the token string, so a
// match never slices a subject into token strings: it scans each token's characters once (it must
// find the dots anyway), looks the hash up in a Map with small-integer keys (no string hashing) and
// confirms the hit with `startsWith` at that offset. Tokens whose hashes collide under one node
// chain through `sameHash`. Against the obvious Map<string, node> walk over `subject.split('.')`
// this measured ~1.2x faster at 10k subscriptions and ~1.8x at 100k on never-repeating subjects
// (no token garbage, fewer scavenges); it is what puts the cacheless path at ~2.2-2.5x qlobber
// (bench/scenarios/pattern-index.ts).
//
// Literal patterns (typically 90% of them) live in the same trie. A separate Map keyed by the
// whole pattern looked neat, but on never-repeating subjects its whole-subject hash and cold probe
// made match ~12-15% slower than walking the prefix the wildcard walk visits anyway.

class TrieNode<T> {
  children: Map<number, TrieNode<T>> | undefined = undefined;
  star: TrieNode<T> | undefined = undefined;
  exact: T[] | undefined = undefined;
  rest: T[] | undefined = undefined;
  /** Next child of the same parent whose token has the same hash. */
  sameHash: TrieNode<T> | undefined = undefined;
  constructor(readonly token: string) {}

  isEmpty(): boolean {
    return this.children === undefined && this.star === undefined && this.exact === undefined && this.rest === undefined;
  }
}

/** FNV-1a over UTF-16 code units of `s[start, end)`, cut to 30 bits so it stays a V8 small integer.
 * Exported for tests only (not part of fete/shared). */
export function hashToken(s: string, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h & 0x3fffffff;
}

function findChild<T>(children: Map<number, TrieNode<T>>, h: number, s: string, start: number, end: number): TrieNode<T> | undefined {
  let child = children.get(h);
  while (child !== undefined && !(child.token.length === end - start && s.startsWith(child.token, start))) child = child.sameHash;
  return child;
}

const LINEAR_BUCKET = 8;

// SameValueZero, as Set and Array#includes use: NaN finds NaN, +0 finds -0.
function indexOfValue<T>(values: readonly T[], value: T): number {
  if (value === value) return values.indexOf(value);
  for (let i = 0; i < values.length; i++) if (values[i] !== values[i]) return i;
  return -1;
}

/**
 * Maps patterns to values and answers "which values match this subject".
 *
 * - Set semantics: a (pattern, value) pair is registered at most once; adding it again is a no-op
 *   that returns false. One pattern may hold many values, and one value may sit under many patterns.
 * - `match` returns each matching value once, even when several of its patterns match (deduped by
 *   identity, SameValueZero as in `Set`). Order is unspecified.
 * - `match` returns a fresh array the caller owns: mutating it cannot corrupt the index or a later
 *   result. That copy is most of a cache hit's cost (~50 ns with it, ~28 ns returning the cached
 *   array itself, measured at 10k subscriptions), but at ~20M matches/s either way is far past
 *   the anchors, and a shared frozen array would make every caller's `T[]` a `readonly T[]`.
 * - `add`/`remove`/`has` validate the pattern (InvalidPatternError). `match` validates nothing on
 *   this hot path — subjects are validated at the edge — but never throws on a string and answers
 *   exactly what `matches(pattern, subject)` from subject.ts would for it, token for token (tokens
 *   split on `.`, so `a..b` has an empty middle token that no pattern token but `*` matches).
 *   A non-string matches nothing.
 */
export class PatternIndex<T> {
  #root = new TrieNode<T>('');
  #size = 0;
  // Values registered under two or more patterns. While there are none (the usual case: one
  // handler or subscription object per pattern) match skips deduplication entirely.
  #patternsPerValue = new Map<T, number>();
  #sharedValues = 0;
  // Position maps for large buckets (many values under one pattern), so add/remove stay O(1).
  #positions = new WeakMap<T[], Map<T, number>>();
  // Scratch list of the buckets one match found (the first #foundCount entries; older entries
  // past it are left in place, since truncating costs a runtime call per match). match runs no
  // user code, so reusing it is safe.
  #found: T[][] = [];
  #foundCount = 0;
  #cache: MatchCache<T> | undefined;

  constructor(options: PatternIndexOptions = {}) {
    const cacheSize = Math.max(0, Math.floor(options.cacheSize ?? 4096));
    this.#cache = cacheSize > 0 ? new MatchCache(cacheSize) : undefined;
  }

  /** Number of (pattern, value) registrations. */
  get size(): number {
    return this.#size;
  }

  /** Registers `value` under `pattern`. Returns false (and changes nothing) if already registered. */
  add(pattern: string, value: T): boolean {
    validatePattern(pattern);
    const tokens = pattern.split('.');
    const last = tokens.length - 1;
    let node = this.#root;
    for (let i = 0; i < last; i++) node = this.#child(node, tokens[i]!);
    let bucket: T[];
    if (tokens[last] === '>') bucket = node.rest ??= [];
    else bucket = (node = this.#child(node, tokens[last]!)).exact ??= [];
    if (!this.#bucketAdd(bucket, value)) return false;
    this.#size++;
    const n = (this.#patternsPerValue.get(value) ?? 0) + 1;
    this.#patternsPerValue.set(value, n);
    if (n === 2) this.#sharedValues++;
    this.#invalidate(pattern, tokens);
    return true;
  }

  /** Unregisters `value` from `pattern`. Returns false if that pair was not registered. */
  remove(pattern: string, value: T): boolean {
    validatePattern(pattern);
    const tokens = pattern.split('.');
    if (!this.#removeFrom(this.#root, tokens, 0, value)) return false;
    this.#size--;
    const n = this.#patternsPerValue.get(value)! - 1;
    if (n === 0) this.#patternsPerValue.delete(value);
    else this.#patternsPerValue.set(value, n);
    if (n === 1) this.#sharedValues--;
    this.#invalidate(pattern, tokens);
    return true;
  }

  /** Whether `value` is registered under exactly `pattern` (not: whether the pattern matches). */
  has(pattern: string, value: T): boolean {
    validatePattern(pattern);
    const tokens = pattern.split('.');
    const last = tokens.length - 1;
    let node: TrieNode<T> | undefined = this.#root;
    for (let i = 0; i < last && node !== undefined; i++) node = this.#next(node, tokens[i]!);
    if (node === undefined) return false;
    const bucket = tokens[last] === '>' ? node.rest : this.#next(node, tokens[last]!)?.exact;
    return bucket !== undefined && this.#bucketIndex(bucket, value) >= 0;
  }

  /** Removes every registration. */
  clear(): void {
    this.#root = new TrieNode('');
    this.#size = 0;
    this.#patternsPerValue.clear();
    this.#sharedValues = 0;
    this.#positions = new WeakMap();
    this.#found = [];
    this.#cache?.clear();
  }

  /** Every value registered under a pattern that matches `subject`, once each, in no set order.
   * The array is the caller's to keep or mutate. */
  match(subject: string): T[] {
    if (typeof subject !== 'string') return [];
    const cache = this.#cache;
    if (cache !== undefined && subject.length <= MAX_SUBJECT_BYTES) {
      const hit = cache.lookup(subject);
      if (hit !== undefined) return hit.slice();
      const result = this.#compute(subject);
      if (cache.storeMiss) {
        cache.store(subject, result);
        return result.slice();
      }
      return result;
    }
    return this.#compute(subject);
  }

  #compute(subject: string): T[] {
    this.#foundCount = 0;
    this.#walk(this.#root, subject, 0);
    const found = this.#found;
    const n = this.#foundCount;
    if (n === 0) return [];
    if (n === 1) return found[0]!.slice();
    if (this.#sharedValues > 0) return dedupe(found, n);
    // Several buckets, no value in two of them: concatenate (one backing-store allocation for up
    // to 16 values, where slice-then-push would grow it once more).
    const out: T[] = [];
    for (let b = 0; b < n; b++) {
      const values = found[b]!;
      for (let i = 0; i < values.length; i++) out.push(values[i]!);
    }
    return out;
  }

  // Collects into #found the buckets of every pattern matching the subject from offset `start`
  // on; `start` is where the next token begins, or -1 when no token remains.
  #walk(node: TrieNode<T>, s: string, start: number): void {
    if (start < 0) {
      if (node.exact !== undefined) this.#found[this.#foundCount++] = node.exact;
      return;
    }
    if (node.rest !== undefined) this.#found[this.#foundCount++] = node.rest;
    const children = node.children;
    const star = node.star;
    if (children === undefined && star === undefined) return;
    // Scan the token once: find its end and hash it (the same FNV-1a as hashToken, inlined).
    let end = start;
    let h = 0x811c9dc5;
    const length = s.length;
    for (let c: number; end < length && (c = s.charCodeAt(end)) !== 46; end++) h = Math.imul(h ^ c, 0x01000193);
    const next = end < length ? end + 1 : -1;
    if (children !== undefined) {
      const child = findChild(children, h & 0x3fffffff, s, start, end);
      if (child !== undefined) this.#walk(child, s, next);
    }
    if (star !== undefined) this.#walk(star, s, next);
  }

  #invalidate(pattern: string, tokens: string[]): void {
    // A literal pattern matches exactly one subject, the pattern itself: only that cached result
    // can change. A wildcard pattern may touch any cached result.
    const cache = this.#cache;
    if (cache === undefined) return;
    if (tokens.includes('*') || tokens.includes('>')) cache.clear();
    else cache.delete(pattern);
  }

  #next(node: TrieNode<T>, token: string): TrieNode<T> | undefined {
    if (token === '*') return node.star;
    return node.children && findChild(node.children, hashToken(token, 0, token.length), token, 0, token.length);
  }

  #child(node: TrieNode<T>, token: string): TrieNode<T> {
    if (token === '*') return (node.star ??= new TrieNode('*'));
    const children = (node.children ??= new Map<number, TrieNode<T>>());
    const h = hashToken(token, 0, token.length);
    const existing = findChild(children, h, token, 0, token.length);
    if (existing !== undefined) return existing;
    const child = new TrieNode<T>(token);
    child.sameHash = children.get(h);
    children.set(h, child);
    return child;
  }

  #unlink(node: TrieNode<T>, child: TrieNode<T>): void {
    if (child.token === '*' && node.star === child) {
      node.star = undefined;
      return;
    }
    const children = node.children!;
    const h = hashToken(child.token, 0, child.token.length);
    let head = children.get(h)!;
    if (head === child) {
      if (child.sameHash === undefined) children.delete(h);
      else children.set(h, child.sameHash);
    } else {
      while (head.sameHash !== child) head = head.sameHash!;
      head.sameHash = child.sameHash;
    }
    if (children.size === 0) node.children = undefined;
  }

  // Removes `value` from the pattern's bucket and prunes nodes left empty on the way back up.
  #removeFrom(node: TrieNode<T>, tokens: string[], i: number, value: T): boolean {
    const token = tokens[i]!;
    const last = i === tokens.length - 1;
    if (last && token === '>') {
      if (node.rest === undefined || !this.#bucketDelete(node.rest, value)) return false;
      if (node.rest.length === 0) node.rest = undefined;
      return true;
    }
    const child = this.#next(node, token);
    if (child === undefined) return false;
    if (last) {
      if (child.exact === undefined || !this.#bucketDelete(child.exact, value)) return false;
      if (child.exact.length === 0) child.exact = undefined;
    } else if (!this.#removeFrom(child, tokens, i + 1, value)) return false;
    if (child.isEmpty()) this.#unlink(node, child);
    return true;
  }

  // Buckets are plain arrays, fastest to copy into results. A bucket of more than 8 values also
  // has a value -> position map (ten thousand browsers on one pattern must not make add/remove
  // O(n)); it exists exactly while the bucket is that large, so small buckets never look it up.
  // Removal moves the last value into the hole.
  #bucketIndex(bucket: T[], value: T): number {
    if (bucket.length <= LINEAR_BUCKET) return indexOfValue(bucket, value);
    return this.#positions.get(bucket)!.get(value) ?? -1;
  }

  #bucketAdd(bucket: T[], value: T): boolean {
    if (this.#bucketIndex(bucket, value) >= 0) return false;
    bucket.push(value);
    if (bucket.length === LINEAR_BUCKET + 1) this.#positions.set(bucket, new Map(bucket.map((v, i) => [v, i])));
    else if (bucket.length > LINEAR_BUCKET) this.#positions.get(bucket)!.set(value, bucket.length - 1);
    return true;
  }

  #bucketDelete(bucket: T[], value: T): boolean {
    const i = this.#bucketIndex(bucket, value);
    if (i < 0) return false;
    const positions = bucket.length > LINEAR_BUCKET ? this.#positions.get(bucket)! : undefined;
    const last = bucket.pop() as T;
    positions?.delete(value);
    if (i < bucket.length) {
      bucket[i] = last;
      positions?.set(last, i);
    }
    if (bucket.length === LINEAR_BUCKET) this.#positions.delete(bucket);
    return true;
  }
}

function dedupe<T>(found: T[][], n: number): T[] {
  const out = found[0]!.slice();
  let total = 0;
  for (let b = 0; b < n; b++) total += found[b]!.length;
  if (total <= 32) {
    // Few values: a linear scan beats building a Set.
    for (let b = 1; b < n; b++) for (const v of found[b]!) if (indexOfValue(out, v) < 0) out.push(v);
    return out;
  }
  const seen = new Set(out);
  for (let b = 1; b < n; b++)
    for (const v of found[b]!)
      if (!seen.has(v)) {
        seen.add(v);
        out.push(v);
      }
  return out;
}

// --- Result cache --------------------------------------------------------------------------
// A bounded Map from subject to its result, flushed whole when full (cheaper than LRU upkeep,
// and a working set that fits never flushes). add/remove invalidate it (see #invalidate), so it
// never answers stale.
//
// Adaptive, because a cache only pays when subjects repeat. Measured here: a lookup that misses
// costs ~50 ns and storing the result ~170 ns more (insert, plus keeping the subject and result
// alive through scavenges); an always-on cache cost never-repeating traffic ~35% of its
// throughput at 10k subscriptions. So the cache watches its hit rate over windows of 1024 lookups:
// below 1/8 it goes passive and only samples one match in 64 (look up, store on miss), which keeps
// learning the working set; when the sampled hit rate over 64 samples reaches 1/4 it turns fully
// on again (a working set of 1000 subjects does so within ~20k matches). Sampling one in 16
// instead measured ~10-18% below no cache at all on never-repeating subjects at 10k
// subscriptions; one in 64 is within a few percent (interleaved CPU-time runs; noisy machine).
// Subjects longer than MAX_SUBJECT_BYTES UTF-16 units are never stored (no valid subject is).
const WINDOW = 1024;
const SAMPLE_EVERY = 64;
const PASSIVE_WINDOW = 64;

class MatchCache<T> {
  #map = new Map<string, T[]>();
  #active = true;
  #lookups = 0;
  #hits = 0;
  #tick = 0;
  /** Whether a miss from the last lookup should be stored. */
  storeMiss = true;

  constructor(readonly capacity: number) {}

  /** The cached result for `subject`, or undefined (also when a passive cache skips this one). */
  lookup(subject: string): T[] | undefined {
    if (!this.#active && ++this.#tick % SAMPLE_EVERY !== 0) {
      this.storeMiss = false;
      return undefined;
    }
    this.storeMiss = true;
    const hit = this.#map.get(subject);
    if (hit !== undefined) this.#hits++;
    if (++this.#lookups === (this.#active ? WINDOW : PASSIVE_WINDOW)) {
      const rate = this.#hits / this.#lookups;
      this.#active = this.#active ? rate >= 1 / 8 : rate >= 1 / 4;
      this.#lookups = 0;
      this.#hits = 0;
    }
    return hit;
  }

  store(subject: string, result: T[]): void {
    if (this.#map.size >= this.capacity) this.#map.clear();
    this.#map.set(subject, result);
  }

  delete(subject: string): void {
    this.#map.delete(subject);
  }

  clear(): void {
    this.#map.clear();
  }
}
