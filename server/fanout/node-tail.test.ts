// The node's one tail (node-tail.ts) over the memory log: every door gets the events its receivers
// may see (exposed topic, the receiver's tenant), once, in seq order; a door that throws does not
// keep the events from the others; a door that closes gives up the bus interest of the receivers it
// still had, and the tail takes the shortest poll interval its doors ask for.
import { afterEach, describe, expect, it } from 'vitest';
import { createEnvelope, defineTopic, defineTopics, type Envelope } from '../../shared/index.js';
import type { BusTail, EventBus } from '../bus/event-bus.js';
import { MemoryLog } from '../log/memory-log.js';
import type { FeteLog } from '../types.js';
import { NodeTail, type TailDoor, type TailReceiver } from './node-tail.js';

const topics = defineTopics({
  tick: defineTopic('ticks.{n}', { kind: 'presentation' }),
  secret: defineTopic('secrets.{n}', { kind: 'domain' }),
});

const until = async (check: () => boolean) => {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
};

/** A door recording what it got, per receiver. */
function recorder(fail = false) {
  const got = new Map<TailReceiver, number[]>();
  let batches = 0;
  const door: TailDoor<TailReceiver> = {
    route(e, receivers) {
      if (fail) throw new Error('this door is broken');
      for (const r of receivers) got.set(r, [...(got.get(r) ?? []), e.seq!]);
    },
    routed() {
      batches++;
    },
  };
  return { door, got, batches: () => batches };
}

/** A bus whose view of the log is the log itself, counting interest. */
function countingBus(log: MemoryLog) {
  const wants = new Map<string, number>();
  const key = (p: string, t: string) => `${t}|${p}`;
  const view: BusTail = {
    epoch: log.epoch,
    read: (after, o) => log.read(after, o),
    head: () => log.head(),
    highWater: () => log.highWater(),
    prunedThrough: log.prunedThrough.bind(log),
    pruned: log.pruned.bind(log),
    onAppend: (fn) => log.onAppend(fn),
    onCommit: (fn) => log.onCommit(fn),
    want: (p, t) => void wants.set(key(p, t), (wants.get(key(p, t)) ?? 0) + 1),
    unwant: (p, t) => void wants.set(key(p, t), (wants.get(key(p, t)) ?? 0) - 1),
    subscribed: [],
    stats: () => ({ received: 0, skipped: 0, lost: 0, reads: 0 }),
    close: () => undefined,
  };
  const bus = { options: { pollIntervalMs: 60_000, gapReadDelayMs: 5 }, tail: () => view } as unknown as EventBus;
  return { bus, wants };
}

/** Appends and commits (the commit hooks run, as after a store commit). */
async function append(log: MemoryLog, envelopes: Envelope[]): Promise<number[]> {
  const seqs = (await log.append(envelopes)).map((r) => r.seq);
  log.committed(envelopes.map((e, i) => ({ ...e, seq: seqs[i]! })));
  return seqs;
}

describe('the node tail', () => {
  let tail: NodeTail | undefined;
  afterEach(async () => tail?.close());

  it('routes each event once to every door whose receivers may see it, and a door that throws does not hold the others back', async () => {
    const log = new MemoryLog();
    tail = new NodeTail({ log: log as unknown as FeteLog, topics }, { pollIntervalMs: 60_000, pageSize: 100 });
    await tail.ready();
    const broken = recorder(true);
    const sse = recorder();
    const sockets = recorder();
    const mine: TailReceiver = { pattern: 'ticks.>', tenant: '' };
    const other: TailReceiver = { pattern: '>', tenant: 't2' };
    const all: TailReceiver = { pattern: '>', tenant: '' };
    for (const d of [broken, sse, sockets]) tail.open(d.door);
    tail.register(broken.door, { pattern: '>', tenant: '' });
    tail.register(sse.door, mine);
    tail.register(sse.door, other);
    tail.register(sockets.door, all);
    const seqs = await append(log, [createEnvelope(topics.tick, { n: 1 }), createEnvelope(topics.secret, { n: 2 }), createEnvelope(topics.tick, { n: 3 })]);
    await until(() => tail!.cursor === seqs.at(-1));
    // The secret is not exposed: no door gets it; t2's receiver gets nothing of tenant ''.
    expect(sse.got.get(mine)).toEqual([seqs[0], seqs[2]]);
    expect(sse.got.get(other)).toBeUndefined();
    expect(sockets.got.get(all)).toEqual([seqs[0], seqs[2]]);
    expect(sse.batches()).toBeGreaterThan(0);
    expect(tail.stats().eventsRouted).toBe(3);
  });

  it('a door that closes gives up the bus interest of the receivers it still had', async () => {
    const log = new MemoryLog();
    const { bus, wants } = countingBus(log);
    tail = new NodeTail({ log: log as unknown as FeteLog, topics, bus }, { pollIntervalMs: 60_000, pageSize: 100 });
    const a = recorder();
    const b = recorder();
    tail.open(a.door);
    tail.open(b.door);
    const r1: TailReceiver = { pattern: 'ticks.>', tenant: 't1' };
    const r2: TailReceiver = { pattern: 'ticks.>', tenant: 't1' };
    const r3: TailReceiver = { pattern: 'ticks.*', tenant: 't2' };
    tail.register(a.door, r1);
    tail.register(a.door, r2);
    tail.register(a.door, r3);
    tail.register(b.door, { pattern: 'ticks.>', tenant: 't1' });
    tail.unregister(a.door, r2);
    expect(Object.fromEntries(wants)).toEqual({ 't1|ticks.>': 2, 't2|ticks.*': 1 });
    tail.closeDoor(a.door);
    // b's receiver keeps its interest.
    expect(Object.fromEntries(wants)).toEqual({ 't1|ticks.>': 1, 't2|ticks.*': 0 });
    // A receiver of a closed door is not registered again, nor asked for.
    tail.register(a.door, r1);
    expect(wants.get('t1|ticks.>')).toBe(1);
  });

  it('reads the log as often as the most demanding door asks, even without a notification', async () => {
    const log = new MemoryLog();
    // A view of the log that never says it changed: only the tail's poll finds new events.
    const quiet = {
      epoch: log.epoch,
      read: (after: number, o?: { pattern?: string; limit?: number }) => log.read(after, o),
      head: () => log.head(),
      highWater: () => log.highWater(),
      prunedThrough: log.prunedThrough.bind(log),
      pruned: log.pruned.bind(log),
      onAppend: () => () => undefined,
      onCommit: () => () => undefined,
    };
    tail = new NodeTail({ log: quiet as unknown as FeteLog, topics }, { pollIntervalMs: 600_000, pageSize: 100 });
    await tail.ready();
    const door = recorder();
    const r: TailReceiver = { pattern: 'ticks.>', tenant: '' };
    tail.open(door.door);
    tail.register(door.door, r);
    const [seq] = await append(log, [createEnvelope(topics.tick, { n: 1 })]);
    tail.pollAtLeastEvery(10);
    await until(() => door.got.get(r)?.[0] === seq);
  });
});
