// Decoding untrusted envelopes (issue 9, item 6): time per KB of `decodeEnvelope` (fete's bounded,
// linear reviver) on a benign envelope and on a hostile one of the same size, at 64 KiB and 1 MiB,
// side by side with plain `superjson.parse` of the benign input (the anchor: what a decoder with
// no checks costs). The hostile envelope is the one from the issue: superjson meta whose
// `referentialEqualities` point N times into a Set of N entries (superjson walks the Set to the
// n-th entry for each: N^2). superjson.parse of the hostile input is timed once, for reference.
import superjson from 'superjson';
import { decodeEnvelope } from '../../shared/codec.js';
import { lowerIsBetter, type Comparison, type Figure, type Scenario } from '../harness.js';

const SIZES = (process.env.FETE_BENCH_CODEC_SIZES ?? `${64 * 1024},${1024 * 1024}`).split(',').map(Number);
const ROUNDS = 9;
const MIN_MS = Number(process.env.FETE_BENCH_MIN_MS ?? 300);
const ID = '0190a6b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b';

function envelopeText(payloadJson: string, meta: string): string {
  return `{"json":{"id":"${ID}","topic":"orders.{orderId}.created","subject":"orders.o-1.created","time":"2024-01-01T00:00:00.000Z","headers":{},"payload":${payloadJson},"context":{}},"meta":${meta}}`;
}

/** A realistic payload of about `bytes`: order lines with a Date, a Set of tags and a bigint, as
 * superjson.stringify writes it (so the anchor parses exactly what a browser sends). */
function benign(bytes: number): string {
  const lines: unknown[] = [];
  const envelope = (n: number) => ({
    id: ID,
    topic: 'orders.{orderId}.created',
    subject: 'orders.o-1.created',
    time: '2024-01-01T00:00:00.000Z',
    headers: {},
    payload: { orderId: 'o-1', lines: lines.slice(0, n) },
    context: {},
  });
  for (let i = 0; ; i++) {
    lines.push({ sku: `sku-${i}`, qty: i % 7, at: new Date(1_700_000_000_000 + i), tags: new Set([`t${i % 5}`, 'x']), cents: BigInt(i) * 100n, note: 'lorem ipsum dolor' });
    if (i % 64 === 0 && superjson.stringify(envelope(lines.length)).length >= bytes) break;
  }
  let n = lines.length;
  while (n > 1 && superjson.stringify(envelope(n)).length > bytes) n--;
  return superjson.stringify(envelope(n));
}

/** The hostile input of about `bytes`: N referential equalities into a Set of N objects. */
function hostile(bytes: number): string {
  const entry = (i: number) => `"payload.s.${i}":["payload.r.${i}"]`;
  let n = 0;
  let size = 200;
  while (size < bytes) size += entry(n++).length + 10;
  const s = Array.from({ length: n }, () => '{}').join(',');
  const r = Array.from({ length: n }, () => 'null').join(',');
  const refs = Array.from({ length: n }, (_, i) => entry(i)).join(',');
  return envelopeText(`{"s":[${s}],"r":[${r}]}`, `{"values":{"payload.s":["set"]},"referentialEqualities":{${refs}},"v":1}`);
}

/** ms per KB of one round of `fn(text)`: repeated for at least MIN_MS. */
function round(text: string, fn: (t: string) => unknown): number {
  let runs = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < MIN_MS) {
    fn(text);
    runs++;
    elapsed = performance.now() - start;
  }
  return elapsed / runs / (text.length / 1024);
}

/** Median ms per KB of each case, rounds interleaved (case A, B, C, A, B, C...) so that load from
 * other processes on the machine falls on every case alike. */
function interleaved(cases: Array<{ text: string; fn: (t: string) => unknown }>): number[] {
  for (const c of cases) c.fn(c.text); // warm-up
  const rounds: number[][] = cases.map(() => []);
  for (let r = 0; r < ROUNDS; r++) cases.forEach((c, i) => rounds[i]!.push(round(c.text, c.fn)));
  return rounds.map((xs) => xs.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)]!);
}

const scenario: Scenario = {
  name: 'codec',
  description: 'decodeEnvelope ms/KB, benign vs hostile (referentialEqualities into a Set), vs superjson.parse',
  async run() {
    const figures: Figure[] = [];
    const comparisons: Comparison[] = [];
    const notes: string[] = [];
    for (const size of SIZES) {
      const label = size >= 1024 * 1024 ? `${size / (1024 * 1024)} MiB` : `${size / 1024} KiB`;
      const good = benign(size);
      const bad = hostile(size);
      // Both decode: the benign one to its lines, the hostile one to N shared references.
      const decoded = decodeEnvelope(bad, { maxBytes: 2 * size }).payload as { s: Set<unknown>; r: unknown[] };
      if (decoded.s.size !== decoded.r.length || !decoded.r.every((x) => decoded.s.has(x))) throw new Error('hostile envelope did not decode to its references');
      const opts = { maxBytes: 2 * size };
      const [feteBenign, feteHostile, anchorBenign] = interleaved([
        { text: good, fn: (t) => decodeEnvelope(t, opts) },
        { text: bad, fn: (t) => decodeEnvelope(t, opts) },
        { text: good, fn: (t) => superjson.parse(t) },
      ]) as [number, number, number];
      const once = performance.now();
      superjson.parse(bad);
      const anchorHostileOnce = (performance.now() - once) / (bad.length / 1024);
      figures.push(
        { name: `decode ms/KB, benign, ${label}`, impl: 'fete', value: feteBenign, unit: 'ms/KB' },
        { name: `decode ms/KB, hostile, ${label}`, impl: 'fete', value: feteHostile, unit: 'ms/KB' },
        { name: `decode ms/KB, benign, ${label}`, impl: 'superjson.parse', value: anchorBenign, unit: 'ms/KB' },
        { name: `decode ms/KB, hostile, ${label} (one run)`, impl: 'superjson.parse', value: anchorHostileOnce, unit: 'ms/KB' },
      );
      comparisons.push(
        lowerIsBetter(`hostile / benign, ${label}`, feteHostile, feteBenign, 'fete benign', 3),
        lowerIsBetter(`fete hostile / superjson.parse benign, ${label}`, feteHostile, anchorBenign, 'superjson.parse benign', 3),
        lowerIsBetter(`fete benign / superjson.parse benign, ${label}`, feteBenign, anchorBenign, 'superjson.parse benign'),
      );
      notes.push(`${label}: benign ${good.length} chars, hostile ${bad.length} chars (${decoded.s.size} references into a Set of ${decoded.s.size})`);
    }
    notes.push('fete = decodeEnvelope: size bound, JSON.parse, prototype-key and depth walk, linear superjson reviver, shape check; medians of 9 interleaved rounds.');
    return { settings: { sizes: SIZES, rounds: ROUNDS, minMs: MIN_MS }, figures, comparisons, notes };
  },
};

export default scenario;
