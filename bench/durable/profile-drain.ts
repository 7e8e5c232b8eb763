// Where fete's drain spends this process's CPU: enqueues N events (FETE_BENCH_DRAIN_EVENTS,
// default 100,000), then profiles only the drain (node:inspector, 200 us sampling) and prints the
// share of samples by file/package and by function, plus node CPU per 1000 jobs.
//   npx tsx bench/durable/profile-drain.ts            (PostgreSQL, FETE_BENCH_DATABASE_URL or the test URL)
//   FETE_PROFILE_PGLITE=1 npx tsx bench/durable/profile-drain.ts   (PGlite in memory)
//   FETE_PROFILE_OUT=drain.cpuprofile ...   (also writes the profile, for DevTools or a closer look)
// The profiler itself slows the drain; compare shares, not rates.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { createFete } from '../../server/index.js';
import { defineTopic, defineTopics } from '../../shared/index.js';
import { closeAdmin, CONCURRENCY, DATABASE_URL, dropSchema, ENQUEUE_BATCH, freshSchema, Latch, settleDatabase, until } from './common.js';

const topics = defineTopics({ job: defineTopic('bench.job', { kind: 'domain' }) });
const N = Number(process.env.FETE_BENCH_DRAIN_EVENTS ?? 100_000);
const pglite = process.env.FETE_PROFILE_PGLITE === '1';
const schema = pglite ? 'fete' : freshSchema('prof');

const fete = await createFete({ topics, store: pglite ? 'memory' : DATABASE_URL, schema });
const latch = new Latch();
fete.on(topics.job, 'noop', () => latch.add(), { concurrency: CONCURRENCY });
for (let i = 0; i < N; i += ENQUEUE_BATCH)
  await fete.emitMany(Array.from({ length: Math.min(ENQUEUE_BATCH, N - i) }, (_, k) => ({ topic: topics.job, payload: { i: i + k } })));
if (!pglite) await settleDatabase(schema);

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 200 });
await session.post('Profiler.start');
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await fete.start();
await latch.wait(N);
await until(async () => {
  const l = (await fete.stats()).listeners[0]!;
  return l.pending + l.running + l.retrying === 0;
}, 'completions');
const wall = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const { profile } = await session.post('Profiler.stop');
if (process.env.FETE_PROFILE_OUT) writeFileSync(process.env.FETE_PROFILE_OUT, JSON.stringify(profile));

const cpuMs = (cpu.user + cpu.system) / 1000;
process.stdout.write(
  `${pglite ? 'PGlite (memory)' : 'PostgreSQL'}: ${((N / wall) * 1000).toFixed(0)} jobs/s under the profiler; ` +
    `node CPU ${((cpuMs / wall) * 100).toFixed(0)}% of wall, ${((cpuMs / N) * 1000).toFixed(1)} ms per 1000 jobs\n`,
);
const hits = new Map<number, number>();
for (const id of profile.samples ?? []) hits.set(id, (hits.get(id) ?? 0) + 1);
const total = profile.samples?.length ?? 1;
const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
for (const node of profile.nodes) {
  const n = hits.get(node.id) ?? 0;
  if (n === 0) continue;
  const f = node.callFrame;
  const file = (f.url || '(native)').replace(/^file:\/\//, '').replace(/^.*\/work\/main\//, '');
  const group = file.includes('node_modules/')
    ? file.replace(/^.*node_modules\/((@[^/]+\/)?[^/]+).*$/, 'node_modules/$1')
    : file.startsWith('node:')
      ? 'node internals'
      : file;
  byFunction.set(`${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`, (byFunction.get(`${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`) ?? 0) + n);
  byFile.set(group, (byFile.get(group) ?? 0) + n);
}
const top = (m: Map<string, number>, k: number) =>
  [...m].sort((a, b) => b[1] - a[1]).slice(0, k).map(([name, n]) => `${((n / total) * 100).toFixed(1).padStart(5)}%  ${name}`).join('\n');
process.stdout.write(`--- by file or package\n${top(byFile, 18)}\n--- by function\n${top(byFunction, 25)}\n`);

await fete.stop();
if (!pglite) await dropSchema(schema);
await closeAdmin();
