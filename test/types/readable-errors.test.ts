// fete's type-level errors read well on TypeScript 5.9 (the compiler the tools load) and on
// TypeScript 7 (the native compiler): a wrong template parameter, a wrong kind, an invalid pattern
// and a pattern that matches no topic each produce an error on their own line that names the
// mistake, not "No overload matches this call" alone or "Property 'payload' does not exist on
// type 'never'". TypeScript 7 is found at FETE_TSC7 (a tsc binary) or as the `typescript7` alias
// package (`npm install --no-save typescript7@npm:typescript@7`); without it that half is skipped
// with the reason printed.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '../..');
const fixtures = resolve(import.meta.dirname, 'fixtures');
const ts7 = process.env.FETE_TSC7 ?? [resolve(repo, 'node_modules/typescript7/bin/tsc')].find((p) => existsSync(p));
if (!ts7) console.log('skipping the TypeScript 7 half: set FETE_TSC7 to a TypeScript 7 tsc, or install typescript7@npm:typescript@7');

/** Compiles the fixture; the errors by the line of each `// ERROR <name>` marker (the line after it). */
function errorsByMarker(tsc: string): Record<string, string> {
  let out = '';
  try {
    execFileSync(tsc, ['-p', fixtures, '--pretty', 'false'], { cwd: repo, encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    out = String((err as { stdout?: string }).stdout ?? '');
  }
  const lines = readFileSync(resolve(fixtures, 'readable-errors.ts'), 'utf8').split('\n');
  const result: Record<string, string> = {};
  lines.forEach((line, i) => {
    const m = /^\/\/ ERROR (\S+)/.exec(line);
    if (!m) return;
    const at = `readable-errors.ts(${i + 2},`;
    // An error starts at a "file(line,col): error" line; its detail lines follow, indented.
    const blocks = out.split(/\n(?=\S)/).filter((b) => b.includes(at));
    result[m[1]!] = blocks.join('\n');
  });
  return result;
}

const expected: Record<string, RegExp> = {
  'template-param': /template parameter \\?"orderId\\?" is not a field of the payload/,
  kind: /'"domian"' is not assignable to type 'TopicKind'\. Did you mean '"domain"'\?/,
  'invalid-pattern': /invalid pattern \\"orders\.>\.status\\": \\">\\" may only be the last token/,
  'no-topic': /pattern \\"ordrs\.\*\.status\\" matches no topic of the catalogue/,
  'no-topic-server': /pattern \\"ordrs\.>\\" matches no topic of the catalogue/,
};

function check(tsc: string): void {
  const errors = errorsByMarker(tsc);
  for (const [name, re] of Object.entries(expected)) expect(errors[name], `${name}:\n${errors[name]}`).toMatch(re);
}

describe('readable type errors', () => {
  it('on TypeScript 5.9: each mistake is named in its error', () => check(resolve(repo, 'node_modules/typescript/bin/tsc')), 180_000);
  it.skipIf(!ts7)('on TypeScript 7: each mistake is named in its error, not hidden behind the overload error', () => check(ts7!), 180_000);
});
