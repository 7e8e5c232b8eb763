// `npm run bench [-- NAME...]`: runs every scenario in bench/scenarios (or the named ones), prints
// figures and ratios, and merges them into bench/results/latest.json and latest.md.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { fmt, machine, type Scenario, type ScenarioResult } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const scenarioDir = join(here, 'scenarios');
const resultsDir = join(here, 'results');

async function loadScenarios(): Promise<Scenario[]> {
  const files = readdirSync(scenarioDir).filter((f) => f.endsWith('.ts')).sort();
  const out: Scenario[] = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(join(scenarioDir, f)).href)) as { default?: Scenario };
    if (mod.default) out.push(mod.default);
  }
  return out;
}

function toMarkdown(all: Record<string, { at: string; machine: Record<string, unknown> } & ScenarioResult>): string {
  const lines = ['# fete benchmark results', '', 'Written by `npm run bench`. Ratios are fete / anchor.', ''];
  for (const [name, r] of Object.entries(all)) {
    lines.push(`## ${name}`, '', `Run at ${r.at} on ${JSON.stringify(r.machine)}`, '', `Settings: \`${JSON.stringify(r.settings)}\``, '');
    lines.push('| figure | impl | value | unit |', '| --- | --- | ---: | --- |');
    for (const f of r.figures) lines.push(`| ${f.name} | ${f.impl} | ${fmt(f.value)} | ${f.unit} |`);
    lines.push('', '| comparison | anchor | ratio | target | met |', '| --- | --- | ---: | ---: | --- |');
    for (const c of r.comparisons)
      lines.push(`| ${c.name} | ${c.anchor} | ${c.ratio.toFixed(2)} | ${c.target ?? ''} | ${c.met === undefined ? '' : c.met ? 'yes' : 'NO'} |`);
    for (const n of r.notes ?? []) lines.push('', `- ${n}`);
    lines.push('');
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  if (process.argv.includes('--render')) {
    // Rewrites latest.md from latest.json (after merging results measured on different branches).
    const latest = join(resultsDir, 'latest.json');
    writeFileSync(join(resultsDir, 'latest.md'), toMarkdown(JSON.parse(readFileSync(latest, 'utf8')) as Parameters<typeof toMarkdown>[0]));
    return;
  }
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const scenarios = await loadScenarios();
  const unknown = wanted.filter((w) => !scenarios.some((s) => s.name === w));
  if (unknown.length > 0) {
    process.stderr.write(`unknown scenario(s): ${unknown.join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}\n`);
    process.exit(2);
  }
  mkdirSync(resultsDir, { recursive: true });
  const latestPath = join(resultsDir, 'latest.json');
  const all = existsSync(latestPath) ? (JSON.parse(readFileSync(latestPath, 'utf8')) as Parameters<typeof toMarkdown>[0]) : {};
  for (const s of scenarios) {
    if (wanted.length > 0 && !wanted.includes(s.name)) continue;
    process.stdout.write(`\n== ${s.name}: ${s.description}\n`);
    const result = await s.run();
    for (const f of result.figures) process.stdout.write(`  ${f.impl.padEnd(22)} ${f.name.padEnd(56)} ${fmt(f.value).padStart(9)} ${f.unit}\n`);
    for (const c of result.comparisons)
      process.stdout.write(
        `  ratio vs ${c.anchor.padEnd(22)} ${c.name.padEnd(47)} ${c.ratio.toFixed(2).padStart(9)}x${c.target === undefined ? '' : `  (target ${c.target}x: ${c.met ? 'met' : 'NOT met'})`}\n`,
      );
    all[s.name] = { at: new Date().toISOString(), machine: machine(), ...result };
    writeFileSync(latestPath, `${JSON.stringify(all, null, 2)}\n`);
    writeFileSync(join(resultsDir, 'latest.md'), toMarkdown(all));
  }
  process.stdout.write(`\nresults written to ${latestPath}\n`);
}

await main();
