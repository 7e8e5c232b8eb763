// PatternIndex.match against qlobber and eventemitter2: the same subscriptions (10% wildcards) and
// the same subject streams, at 10k and 100k subscriptions, on a repeated and a never-repeating
// workload. Every implementation's answers are checked against each other before any timing.
import { createRequire } from 'node:module';
import eventemitter2 from 'eventemitter2';
import { PatternIndex } from '../../shared/pattern-index.js';
import { matches } from '../../shared/subject.js';
import { higherIsBetter, type Comparison, type Figure, type Scenario } from '../harness.js';

// eventemitter2 is CommonJS: module.exports is the class, which also carries itself as `.EventEmitter2`.
const { EventEmitter2 } = eventemitter2;
// qlobber ships no types; this is the slice of its API we use.
interface QlobberLike<R> {
  add(topic: string, value: unknown): unknown;
  match(topic: string): R;
}
type QlobberCtor<R> = new (options: Record<string, unknown>) => QlobberLike<R>;
const qlobberModule = createRequire(import.meta.url)('qlobber') as {
  Qlobber: QlobberCtor<unknown[]>;
  QlobberDedup: QlobberCtor<Set<unknown>>;
};
const QLOBBER_OPTIONS = { separator: '.', wildcard_one: '*', wildcard_some: '>' };

// FETE_BENCH_SIZES / FETE_BENCH_MIN_MS shorten a run while iterating; defaults are the reported setup.
const SIZES = (process.env.FETE_BENCH_SIZES ?? '10000,100000').split(',').map(Number);
const WILDCARD_RATIO = 0.1;
const REPEATED_SUBJECTS = 1_000;
const ROUNDS = 5;
const MIN_MS = Number(process.env.FETE_BENCH_MIN_MS ?? 500);
const UNIQUE_CHUNK = 20_000;

// --- Workload generation (seeded, so every run sees the same subscriptions) ------------------

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const RESOURCES = ['orders', 'invoices', 'carts', 'shipments', 'users'];
const EVENTS = ['status', 'created', 'updated', 'deleted'];
const IDS_PER_RESOURCE = 8;
const ITEMS = 4;
// Subscriptions per tenant: tenants scale with size so each subject meets a similar handful of
// patterns at 10k and at 100k; only the index around it grows.
const SUBS_PER_TENANT = 500;

class Workload {
  readonly rand: () => number;
  readonly tenants: number;
  #unique = 0;

  constructor(size: number) {
    this.rand = mulberry32(size);
    this.tenants = Math.max(1, Math.round(size / SUBS_PER_TENANT));
  }

  #pick<X>(xs: readonly X[]): X {
    return xs[Math.floor(this.rand() * xs.length)]!;
  }

  #int(n: number): number {
    return Math.floor(this.rand() * n);
  }

  /** A subject of 3 to 6 tokens. `id` is either from a small per-tenant pool (entities people
   * watch) or unique (fresh ids, as in live traffic). Three-token subjects are all `presence`, so
   * no subject ever equals the prefix of a `x.y.z.>` pattern (see the note on `>` semantics). */
  subject(id?: string): string {
    const t = `tenant-${this.#int(this.tenants)}`;
    const shape = this.rand();
    if (shape < 0.1) return `${t}.presence.u-${id ?? this.#int(IDS_PER_RESOURCE)}`;
    const r = this.#pick(RESOURCES);
    const e = `${r[0]}-${id ?? this.#int(IDS_PER_RESOURCE)}`;
    if (shape < 0.6) return `${t}.${r}.${e}.${this.#pick(EVENTS)}`;
    if (shape < 0.8) return `${t}.${r}.${e}.items.i-${this.#int(ITEMS)}`;
    return `${t}.${r}.${e}.items.i-${this.#int(ITEMS)}.${this.#pick(EVENTS)}`;
  }

  uniqueSubject(): string {
    return this.subject(String(++this.#unique));
  }

  wildcardPattern(): string {
    const t = `tenant-${this.#int(this.tenants)}`;
    const r = this.#pick(RESOURCES);
    const e = `${r[0]}-${this.#int(IDS_PER_RESOURCE)}`;
    const k = this.rand() * 12;
    if (k < 1) return `${t}.>`;
    if (k < 3) return `${t}.${r}.>`;
    if (k < 6) return `${t}.${r}.${e}.>`;
    if (k < 9) return `${t}.${r}.*.${this.#pick(EVENTS)}`;
    if (k < 10) return `${t}.*.*.${this.#pick(EVENTS)}`;
    if (k < 11) return `${t}.${r}.*.items.*`;
    return `${t}.presence.*`;
  }

  subscriptions(size: number): string[] {
    const out: string[] = [];
    for (let i = 0; i < size; i++) out.push(this.rand() < WILDCARD_RATIO ? this.wildcardPattern() : this.subject());
    return out;
  }

  repeatedSubjects(): string[] {
    const set = new Set<string>();
    while (set.size < REPEATED_SUBJECTS) set.add(this.subject());
    return [...set];
  }

  /** Fresh never-seen subjects, passed through JSON.parse as if they came off the wire: flat
   * strings whose hash no implementation has computed yet. */
  uniqueChunk(n: number): string[] {
    const xs: string[] = [];
    for (let i = 0; i < n; i++) xs.push(this.uniqueSubject());
    return JSON.parse(JSON.stringify(xs)) as string[];
  }
}

// --- Implementations under test -------------------------------------------------------------

interface Impl {
  name: string;
  /** Number of values matching `subject` (what each implementation returns, counted). */
  count(subject: string): number;
  ids(subject: string): number[];
}

function build(patterns: string[], handlers: Array<() => void>): { impls: Impl[]; buildMs: Record<string, number> } {
  const idOf = new Map<unknown, number>(handlers.map((h, i) => [h, i]));
  const ids = (xs: Iterable<unknown>) => [...xs].map((x) => idOf.get(x)!).sort((a, b) => a - b);
  const buildMs: Record<string, number> = {};
  const timed = <X>(name: string, make: () => X): X => {
    const start = performance.now();
    const x = make();
    buildMs[name] = performance.now() - start;
    return x;
  };

  const fill = <X extends { add(p: string, v: unknown): unknown }>(x: X): X => {
    for (let i = 0; i < patterns.length; i++) x.add(patterns[i]!, handlers[i]);
    return x;
  };
  const feteNoCache = timed('fete (no cache)', () => fill(new PatternIndex<() => void>({ cacheSize: 0 })));
  const fete = timed('fete', () => fill(new PatternIndex<() => void>()));
  const qlobber = timed('qlobber', () => fill(new qlobberModule.Qlobber(QLOBBER_OPTIONS)));
  const qlobberDedup = timed('qlobber (QlobberDedup)', () => fill(new qlobberModule.QlobberDedup(QLOBBER_OPTIONS)));
  const ee2 = timed('eventemitter2', () => {
    const ee = new EventEmitter2({ wildcard: true, delimiter: '.', maxListeners: 0 });
    for (let i = 0; i < patterns.length; i++) ee.on(toEE2(patterns[i]!), handlers[i]!);
    return ee;
  });

  const impls: Impl[] = [
    { name: 'fete', count: (s) => fete.match(s).length, ids: (s) => ids(fete.match(s)) },
    { name: 'fete (no cache)', count: (s) => feteNoCache.match(s).length, ids: (s) => ids(feteNoCache.match(s)) },
    { name: 'qlobber', count: (s) => qlobber.match(s).length, ids: (s) => ids(qlobber.match(s)) },
    { name: 'qlobber (QlobberDedup)', count: (s) => qlobberDedup.match(s).size, ids: (s) => ids(qlobberDedup.match(s)) },
    { name: 'eventemitter2', count: (s) => ee2.listeners(s).length, ids: (s) => ids(ee2.listeners(s)) },
  ];
  return { impls, buildMs };
}

// eventemitter2's multi-level wildcard is `**`, and it matches zero or more tokens (`a.**` matches
// `a`); NATS `>` and fete match one or more. qlobber's wildcard_some is zero-or-more too. The
// workload never produces a subject equal to a `>` pattern's prefix, so all three agree; the
// agreement check below would fail loudly if that ever stopped being true.
function toEE2(pattern: string): string {
  return pattern.endsWith('>') ? `${pattern.slice(0, -1)}**` : pattern;
}

// --- Agreement check (before any timing) ----------------------------------------------------

function assertAgreement(impls: Impl[], subjects: string[], patterns: string[], handlersCount: number): number {
  let total = 0;
  for (const s of subjects) {
    const expected = impls[0]!.ids(s);
    total += expected.length;
    for (const impl of impls.slice(1)) {
      const got = impl.ids(s);
      if (got.length !== expected.length || got.some((x, i) => x !== expected[i]))
        throw new Error(`pattern-index bench: ${impl.name} disagrees with fete on "${s}": ${got.length} vs ${expected.length} matches`);
    }
  }
  // And fete against the naive definition, on a sample (naive is O(subscriptions) per subject).
  for (const s of subjects.slice(0, 20)) {
    const naive: number[] = [];
    for (let i = 0; i < handlersCount; i++) if (matches(patterns[i]!, s)) naive.push(i);
    const got = impls[0]!.ids(s);
    if (got.length !== naive.length || got.some((x, i) => x !== naive[i]))
      throw new Error(`pattern-index bench: fete disagrees with matches() on "${s}": ${got.length} vs ${naive.length}`);
  }
  return total / subjects.length;
}

// --- Timing ---------------------------------------------------------------------------------
// Each sample records wall time and this process's CPU time (user + system, all threads, so GC
// helper threads count). Comparisons use CPU time: the machine is shared, and time spent
// descheduled while another process runs is not a property of the code. Wall figures are kept
// in each figure's settings.

interface Sample {
  ops: number;
  wallMs: number;
  cpuMs: number;
}

function timeRepeated(impl: Impl, subjects: string[], minMs: number): Sample {
  let ops = 0;
  let sink = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  let wallMs = 0;
  while (wallMs < minMs) {
    for (let i = 0; i < subjects.length; i++) sink += impl.count(subjects[i]!);
    ops += subjects.length;
    wallMs = performance.now() - start;
  }
  const used = process.cpuUsage(cpu);
  if (sink < 0) throw new Error('unreachable');
  return { ops, wallMs, cpuMs: (used.user + used.system) / 1000 };
}

// Fresh chunks are generated outside the timed region; only the matching is timed.
function timeUnique(impl: Impl, workload: Workload, minMs: number): Sample {
  const total: Sample = { ops: 0, wallMs: 0, cpuMs: 0 };
  let sink = 0;
  while (total.wallMs < minMs) {
    const chunk = workload.uniqueChunk(UNIQUE_CHUNK);
    const cpu = process.cpuUsage();
    const start = performance.now();
    for (let i = 0; i < chunk.length; i++) sink += impl.count(chunk[i]!);
    total.wallMs += performance.now() - start;
    const used = process.cpuUsage(cpu);
    total.cpuMs += (used.user + used.system) / 1000;
    total.ops += chunk.length;
  }
  if (sink < 0) throw new Error('unreachable');
  return total;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const TARGETS: Record<string, number> = { qlobber: 1.5, eventemitter2: 3 };

const scenario: Scenario = {
  name: 'pattern-index',
  description: 'PatternIndex.match vs qlobber and eventemitter2, 10% wildcard subscriptions',
  async run() {
    const figures: Figure[] = [];
    const comparisons: Comparison[] = [];
    const notes: string[] = [];
    for (const size of SIZES) {
      const workload = new Workload(size);
      const patterns = workload.subscriptions(size);
      const handlers = patterns.map(() => () => {});
      const { impls, buildMs } = build(patterns, handlers);
      const repeated = workload.repeatedSubjects();
      const uniqueSample = workload.uniqueChunk(2_000);
      const avgRepeated = assertAgreement(impls, repeated, patterns, handlers.length);
      const avgUnique = assertAgreement(impls, uniqueSample, patterns, handlers.length);
      const wildcards = patterns.filter((p) => p.includes('*') || p.includes('>')).length;
      notes.push(
        `${size} subscriptions (${wildcards} wildcard, ${new Set(patterns).size} distinct patterns, ${workload.tenants} tenants): ` +
          `all implementations agree; avg matches per subject ${avgRepeated.toFixed(2)} repeated, ${avgUnique.toFixed(2)} never-repeating`,
      );
      for (const [name, ms] of Object.entries(buildMs))
        figures.push({ name: `build ${size / 1000}k subscriptions`, impl: name, value: ms, unit: 'ms', settings: { size, wildcardRatio: WILDCARD_RATIO } });

      for (const kind of ['repeated', 'never-repeating'] as const) {
        const run = (impl: Impl, ms: number) =>
          kind === 'repeated' ? timeRepeated(impl, repeated, ms) : timeUnique(impl, workload, ms);
        for (const impl of impls) run(impl, 150); // warm-up
        const samples = new Map<string, Sample[]>(impls.map((i) => [i.name, []]));
        for (let round = 0; round < ROUNDS; round++) {
          // Rotate the order each round so no implementation always runs first (or after a GC-heavy one).
          const order = impls.map((_, i) => impls[(i + round) % impls.length]!);
          for (const impl of order) samples.get(impl.name)!.push(run(impl, MIN_MS));
        }
        const settings = {
          size,
          workload: kind,
          wildcardRatio: WILDCARD_RATIO,
          distinctSubjects: kind === 'repeated' ? REPEATED_SUBJECTS : 'all',
          avgMatchesPerSubject: Number((kind === 'repeated' ? avgRepeated : avgUnique).toFixed(2)),
          rounds: ROUNDS,
          minMsPerRound: MIN_MS,
        };
        const label = `match/s, ${size / 1000}k subs, ${kind}`;
        const med = new Map<string, number>();
        for (const [name, xs] of samples) {
          const cpuRates = xs.map((x) => (x.ops / x.cpuMs) * 1000);
          const wallRates = xs.map((x) => (x.ops / x.wallMs) * 1000);
          med.set(name, median(cpuRates));
          figures.push({
            name: label,
            impl: name,
            value: median(cpuRates),
            unit: 'subjects/s (CPU time)',
            settings: { ...settings, samplesCpu: cpuRates.map(Math.round), medianWall: Math.round(median(wallRates)), samplesWall: wallRates.map(Math.round) },
          });
        }
        for (const anchor of ['qlobber', 'qlobber (QlobberDedup)', 'eventemitter2'])
          comparisons.push(higherIsBetter(label, med.get('fete')!, med.get(anchor)!, anchor, TARGETS[anchor]));
        // Diagnostics, no target: the trie alone, and what the adaptive cache costs or gains.
        comparisons.push(higherIsBetter(`${label}, cache off`, med.get('fete (no cache)')!, med.get('qlobber')!, 'qlobber'));
        comparisons.push(higherIsBetter(`${label}, cache on vs off`, med.get('fete')!, med.get('fete (no cache)')!, 'fete (no cache)'));
      }
    }
    notes.push(
      'qlobber: Qlobber with separator ".", wildcard_one "*", wildcard_some ">" and match(topic) (targets apply to it); ' +
        'QlobberDedup returns a Set and dedupes like fete, shown for reference. eventemitter2: wildcard, delimiter ".", maxListeners 0, `>` mapped to `**`, listeners(subject). ' +
        'Every subscription has its own handler function, used as the value in all implementations. ' +
        'qlobber returns its internal array, uncopied, when a single bucket matches; fete always returns a fresh array (and pays the copy on every cache hit).',
      'Both anchors treat their multi-token wildcard as zero-or-more; the workload avoids subjects where that differs from `>` (one-or-more), checked by the agreement pass.',
      'never-repeating subjects carry fresh ids and are produced via JSON.parse (flat, unhashed strings, as off the wire); generation is outside the timed region.',
      `Each figure is the median of ${ROUNDS} interleaved rounds of >= ${MIN_MS} ms (wall) after a warm-up, as subjects per CPU-second of this process (GC threads included); wall-clock medians are in each figure's settings.`,
    );
    return {
      settings: { sizes: SIZES, wildcardRatio: WILDCARD_RATIO, repeatedSubjects: REPEATED_SUBJECTS, rounds: ROUNDS, minMs: MIN_MS, subsPerTenant: SUBS_PER_TENANT },
      figures,
      comparisons,
      notes,
    };
  },
};

export default scenario;
