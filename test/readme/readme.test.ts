// The README cannot drift from the code it shows: every code block (shell commands aside) is a file
// of the repo, marked `<!-- file: path -->`, and its text in the README is that file's text
// (`npm run readme` regenerates it; this is the same check). The files themselves are compiled and
// run by quickstart.test.ts.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ESM script without declarations
import { renderReadme, unmarkedBlocks } from '../../scripts/readme.mjs';

const repo = resolve(import.meta.dirname, '../..');
const readme = readFileSync(resolve(repo, 'README.md'), 'utf8');
const read = (p: string) => readFileSync(resolve(repo, p), 'utf8');

describe('README.md', () => {
  it('shows each marked file exactly as it is in the repo (run `npm run readme` after editing examples/)', () => {
    const { text, stale } = renderReadme(readme, read) as { text: string; stale: string[] };
    expect(stale).toEqual([]);
    expect(text).toBe(readme);
  });

  it('has no code block that is not a file of the repo, except shell commands', () => {
    const unmarked = (unmarkedBlocks(readme) as Array<{ line: number; lang: string }>).filter((b) => b.lang !== 'sh');
    expect(unmarked).toEqual([]);
  });

  it('marks only files that exist, and shows every file of examples/quickstart', () => {
    const marked = [...readme.matchAll(/^<!-- file: (\S+) -->$/gm)].map((m) => m[1]!);
    for (const p of marked) expect(existsSync(resolve(repo, p)), p).toBe(true);
    for (const f of ['topics.ts', 'server.ts', 'main.ts', 'browser.ts', 'http-client.ts', 'commands.ts']) expect(marked).toContain(`examples/quickstart/${f}`);
  });

  it('reports a stale block by its file', () => {
    const edited = readme.replace("kind: 'domain', // a server-owned fact", "kind: 'domain', // edited in the README only");
    expect((renderReadme(edited, read) as { stale: string[] }).stale).toEqual(['examples/quickstart/topics.ts']);
  });
});
