// The benchmark harness: every scenario runs fete and its anchor side by side in one process run,
// reports figures and fete/anchor ratios, and merges them into bench/results/latest.json (+ .md).
import os from 'node:os';

export interface Figure {
  /** What was measured, e.g. "match ops/s, 10k subs, repeated subjects". */
  name: string;
  /** Which implementation: "fete" or the anchor's name. */
  impl: string;
  value: number;
  unit: string;
  settings?: Record<string, unknown>;
}

export interface Comparison {
  name: string;
  /** fete's figure divided by the anchor's (inverted for lower-is-better units, see `better`). */
  ratio: number;
  anchor: string;
  /** The target for the ratio, if any. */
  target?: number;
  met?: boolean;
}

export interface ScenarioResult {
  settings: Record<string, unknown>;
  figures: Figure[];
  comparisons: Comparison[];
  notes?: string[];
}

export interface Scenario {
  name: string;
  description: string;
  run(): Promise<ScenarioResult>;
}

/** Builds a comparison where a higher value is better (throughput). */
export function higherIsBetter(name: string, fete: number, anchor: number, anchorName: string, target?: number): Comparison {
  const ratio = fete / anchor;
  return { name, ratio, anchor: anchorName, ...(target === undefined ? {} : { target, met: ratio >= target }) };
}

/** Builds a comparison where a lower value is better (latency): ratio = fete / anchor, target is a ceiling. */
export function lowerIsBetter(name: string, fete: number, anchor: number, anchorName: string, target?: number): Comparison {
  const ratio = fete / anchor;
  return { name, ratio, anchor: anchorName, ...(target === undefined ? {} : { target, met: ratio <= target }) };
}

export function machine(): Record<string, unknown> {
  return { node: process.version, cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30) };
}

/** Runs `fn` repeatedly for at least `minMs` and returns operations per second (`fn` returns ops done). */
export function opsPerSecond(fn: () => number, minMs = 1000): number {
  let ops = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs) {
    ops += fn();
    elapsed = performance.now() - start;
  }
  return (ops / elapsed) * 1000;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (Math.abs(n) >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(n < 10 ? 2 : 1);
}
