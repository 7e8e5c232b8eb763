// `npm install` on the Node floor of `engines` must not warn: no package of the lockfile may need a
// newer Node than fete itself (the benchmark anchors that need Node 22 live in bench/package.json).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '../..');
const FLOOR: [number, number] = [20, 19];

/** Whether Node at the floor version satisfies an `engines.node` range (the forms npm packages use:
 * `>=a.b`, `^a.b`, `a.x`, `*`, alternatives with `||`, and AND-ed bounds like `>=a <b`). */
function floorSatisfies(range: string, [major, minor] = FLOOR): boolean {
  const atLeast = (m: number, n = 0) => major > m || (major === m && minor >= n);
  return range.split('||').some((alt) => {
    const parts = alt.replace(/([<>=^~]+)\s+/g, '$1').trim().split(/\s+/).filter(Boolean);
    if (parts.length === 0 || parts[0] === '*') return true;
    return parts.every((p) => {
      let m: RegExpExecArray | null;
      if ((m = /^>=?\s*v?(\d+)(?:\.(\d+|x))?/.exec(p))) return atLeast(Number(m[1]), m[2] === 'x' || !m[2] ? 0 : Number(m[2]));
      if ((m = /^<\s*v?(\d+)/.exec(p))) return major < Number(m[1]);
      if ((m = /^[\^~]\s*v?(\d+)(?:\.(\d+))?/.exec(p))) return major === Number(m[1]) && minor >= Number(m[2] ?? 0);
      if ((m = /^v?(\d+)(?:\.(x|\d+))?/.exec(p))) return major === Number(m[1]) && (m[2] === undefined || m[2] === 'x' || minor >= Number(m[2]));
      throw new Error(`unrecognised engines range ${JSON.stringify(range)}`);
    });
  });
}

describe('engines', () => {
  it('reads the range forms npm packages use', () => {
    expect(floorSatisfies('>=20.19')).toBe(true);
    expect(floorSatisfies('>=22.12.0')).toBe(false);
    expect(floorSatisfies('^20.19.0 || >=22.12.0')).toBe(true);
    expect(floorSatisfies('^18.0.0 || >=22')).toBe(false);
    expect(floorSatisfies('>= 16')).toBe(true);
    expect(floorSatisfies('*')).toBe(true);
  });

  it('no package in package-lock.json needs a newer Node than fete declares (no EBADENGINE on install)', () => {
    const pkg = JSON.parse(readFileSync(resolve(repo, 'package.json'), 'utf8')) as { engines: { node: string } };
    expect(pkg.engines.node).toBe(`>=${FLOOR.join('.')}`);
    const lock = JSON.parse(readFileSync(resolve(repo, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { engines?: { node?: string } | string[] }>;
    };
    const needNewer = Object.entries(lock.packages)
      .filter(([name, p]) => name !== '' && !Array.isArray(p.engines) && p.engines?.node !== undefined && !floorSatisfies(p.engines.node))
      .map(([name, p]) => `${name} (${(p.engines as { node: string }).node})`);
    expect(needNewer).toEqual([]);
  });

  it('keeps the Node 22 benchmark anchors in bench/package.json, out of the package', () => {
    const pkg = JSON.parse(readFileSync(resolve(repo, 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
    const bench = JSON.parse(readFileSync(resolve(repo, 'bench/package.json'), 'utf8')) as Record<string, Record<string, string>>;
    for (const anchor of ['pg-boss', 'graphile-worker']) {
      expect(pkg.devDependencies![anchor]).toBeUndefined();
      expect(bench.devDependencies![anchor]).toBeDefined();
    }
  });
});
