// The fanout's tail over a log that skips seqs (the NATS bus's view, bus/nats-tail.ts): a seq
// skipped on a commit notice's word is passed over without a read, unless a subscription wants its
// subject by the time the tail moves past it; then it is read from the log, in its place.
import { afterEach, describe, expect, it } from 'vitest';
import { createEnvelope, defineTopic, type Envelope } from '../../shared/index.js';
import type { Skipped, SkippingLog } from '../log/follow.js';
import { Hooks } from '../log/hooks.js';
import { MemoryLog } from '../log/memory-log.js';
import type { FeteLog } from '../types.js';
import { LogTail } from './log-tail.js';

const tick = defineTopic('ticks.{n}', { kind: 'presentation' });

/** The memory log, read as it is, with commit and skip hooks the test drives (as NATS would). */
function busView(log: MemoryLog) {
  const commits = new Hooks<readonly Envelope[]>();
  const skips = new Hooks<readonly Skipped[]>();
  let reads = 0;
  const view: SkippingLog = {
    epoch: log.epoch,
    read: (after, o) => (reads++, log.read(after, o)),
    head: () => log.head(),
    highWater: () => log.highWater(),
    prunedThrough: log.prunedThrough.bind(log),
    pruned: log.pruned.bind(log),
    onAppend: () => () => undefined,
    onCommit: (fn) => commits.add(fn),
    onSkip: (fn) => skips.add(fn),
  };
  return { view, commits, skips, reads: () => reads };
}

async function appendTicks(log: MemoryLog, ns: number[]): Promise<Envelope[]> {
  const envelopes = ns.map((n) => createEnvelope(tick, { n }));
  const results = await log.append(envelopes);
  return envelopes.map((e, i) => ({ ...e, seq: results[i]!.seq }));
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
};

describe('the fanout tail over a skipping log', () => {
  let tail: LogTail | undefined;
  afterEach(async () => tail?.close());

  function start(log: MemoryLog, view: SkippingLog, wanted: Set<string>) {
    const routed: number[] = [];
    tail = new LogTail(log as unknown as FeteLog, {
      pollIntervalMs: 60_000,
      pageSize: 100,
      route: (e) => routed.push(e.seq!),
      routed: () => undefined,
      live: view,
      wants: (subject) => wanted.has(subject),
    });
    return routed;
  }

  it('passes over skipped seqs nobody wants without reading the log', async () => {
    const log = new MemoryLog();
    const bus = busView(log);
    const routed = start(log, bus.view, new Set());
    await tail!.ready();
    await until(() => bus.reads() > 0); // the first read from the start cursor
    const readsBefore = bus.reads();
    const [e1, e2, e3] = await appendTicks(log, [1, 2, 3]);
    bus.commits.run([e1!]);
    bus.skips.run([{ seq: e2!.seq!, subject: e2!.subject }]);
    bus.commits.run([e3!]);
    await until(() => tail!.cursor === 3);
    expect(routed).toEqual([1, 3]);
    expect(bus.reads()).toBe(readsBefore);
  });

  it('reads a skipped seq from the log, in its place, when a subscription wants it by the time the tail gets there', async () => {
    const log = new MemoryLog();
    const bus = busView(log);
    const wanted = new Set<string>();
    const routed = start(log, bus.view, wanted);
    await tail!.ready();
    const [e1, e2, e3] = await appendTicks(log, [1, 2, 3]);
    // The notice said nobody here wanted ticks.2; a subscription to it came before the tail moved on.
    bus.skips.run([{ seq: e2!.seq!, subject: e2!.subject }]);
    wanted.add(e2!.subject);
    bus.commits.run([e1!]);
    bus.commits.run([e3!]);
    await until(() => tail!.cursor === 3);
    expect(routed).toEqual([1, 2, 3]);
  });

  it('never reads a skipped event that does not leave the server (no subject in the notice)', async () => {
    const log = new MemoryLog();
    const bus = busView(log);
    const routed = start(log, bus.view, new Set(['ticks.2']));
    await tail!.ready();
    await until(() => bus.reads() > 0);
    const readsBefore = bus.reads();
    const [e1, e2] = await appendTicks(log, [1, 2]);
    bus.commits.run([e1!]);
    bus.skips.run([{ seq: e2!.seq!, subject: undefined }]);
    await until(() => tail!.cursor === 2);
    expect(routed).toEqual([1]);
    expect(bus.reads()).toBe(readsBefore);
  });
});
