// `npm run readme`: the README's code blocks are files of the repo (examples/), copied in here so
// they cannot drift. A block opens after a marker line `<!-- file: examples/quickstart/server.ts -->`;
// this script replaces the block's body with the file's text. `--check` writes nothing and exits
// 1 naming the stale blocks (test/readme/readme.test.ts runs the same check).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const MARKER = /^<!-- file: (\S+) -->$/;
const LANG = { ts: 'ts', mjs: 'js', js: 'js', json: 'json', sh: 'sh', sql: 'sql' };

/** The README with every marked block replaced by its file; `stale` lists the blocks that changed. */
export function renderReadme(text, read) {
  const lines = text.split('\n');
  const out = [];
  const stale = [];
  for (let i = 0; i < lines.length; i++) {
    const m = MARKER.exec(lines[i]);
    out.push(lines[i]);
    if (!m) continue;
    const path = m[1];
    if (!lines[i + 1]?.startsWith('```')) throw new Error(`README line ${i + 1}: the marker for ${path} must be followed by a code block`);
    let end = i + 2;
    while (end < lines.length && lines[end] !== '```') end++;
    if (end >= lines.length) throw new Error(`README line ${i + 2}: unterminated code block for ${path}`);
    const body = read(path).replace(/\n$/, '');
    const lang = LANG[path.split('.').pop()] ?? '';
    const block = ['```' + lang, ...body.split('\n'), '```'];
    if (lines.slice(i + 1, end + 1).join('\n') !== block.join('\n')) stale.push(path);
    out.push(...block);
    i = end;
  }
  return { text: out.join('\n'), stale };
}

/** Fenced blocks (by their language) that are not preceded by a marker: code nobody tests. */
export function unmarkedBlocks(text) {
  const lines = text.split('\n');
  const out = [];
  let inBlock = false;
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith('```')) continue;
    if (inBlock) {
      inBlock = false;
      continue;
    }
    inBlock = true;
    if (!MARKER.test(lines[i - 1] ?? '')) out.push({ line: i + 1, lang: lines[i].slice(3) });
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const repo = fileURLToPath(new URL('..', import.meta.url));
  const readmePath = `${repo}README.md`;
  const { text, stale } = renderReadme(readFileSync(readmePath, 'utf8'), (p) => readFileSync(`${repo}${p}`, 'utf8'));
  if (process.argv.includes('--check')) {
    if (stale.length > 0) {
      process.stderr.write(`README.md is out of date for: ${stale.join(', ')}\nrun: npm run readme\n`);
      process.exit(1);
    }
  } else {
    writeFileSync(readmePath, text);
    process.stdout.write(stale.length > 0 ? `README.md updated: ${stale.join(', ')}\n` : 'README.md is current\n');
  }
}
