// The live hub's rule for removals of latest values (live/live-hub.ts), with the in-memory store
// and a channel whose losses the test decides: a receiver is told of a removal only when it handed
// over a value of the subject at a lower version (or it is a resume), once; a removal whose
// message was lost reaches it when the hub re-reads after `onLost`; values and removals keep
// their order while a snapshot is read.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { LiveHandlers } from '../../server/bus/local-live-channel.js';
import type { LiveChannel } from '../../server/bus/live-channel.js';
import { clearedMessage } from '../../server/live/latest-clears.js';
import { memoryLatest } from '../../server/live/latest-store.js';
import { type LiveEvent, LiveHub } from '../../server/live/live-hub.js';
import { wireForBrowser } from '../../server/fanout/browser-envelope.js';
import { type LatestCleared, createEnvelope, defineTopic, defineTopics } from '../../shared/index.js';

const topics = defineTopics({
  price: defineTopic('prices.{symbol}', { kind: 'presentation', delivery: 'latest', schema: z.object({ symbol: z.string(), price: z.number() }) }),
});

/** A channel that delivers to this process only, and whose losses the test triggers. */
function testChannel(): LiveChannel & { lose(): void } {
  const handlers = new LiveHandlers();
  return {
    transport: 'local',
    maxMessageBytes: undefined,
    publish: async (m) => handlers.deliver(m),
    on: (kind, fn) => handlers.on(kind, fn),
    onLost: (fn) => handlers.onLost(fn),
    close: async () => undefined,
    lose: () => handlers.lost(),
  };
}

function setup() {
  const channel = testChannel();
  const latest = memoryLatest();
  const hub = new LiveHub(topics, channel, latest);
  /** Upserts a value and publishes it, as the emit route does. */
  const emit = async (symbol: string, price: number) => {
    const e = createEnvelope(topics.price, { symbol, price });
    const [version] = await latest.upsert([e]);
    await channel.publish({ kind: 'latest', tenant: '', subject: e.subject, data: wireForBrowser({ ...e, version }) });
  };
  const receiver = (resume?: { after: number }) => {
    const got: Array<[string, string, number]> = [];
    const sub = hub.subscribe({
      pattern: 'prices.*',
      tenant: '',
      resume,
      visible: () => true,
      deliver: (ev: LiveEvent) => void got.push(['value', ev.envelope.subject, ev.envelope.version!]),
      cleared: (c: LatestCleared) => void got.push([c.reason, c.subject, c.version]),
    });
    return { got, sub };
  };
  return { channel, latest, hub, emit, receiver };
}

describe('the live hub and removals of latest values', () => {
  it('tells a receiver of a removal of a value it handed over, once, and not of one it never had', async () => {
    const { channel, latest, emit, receiver } = setup();
    await emit('A', 1);
    const r = receiver();
    await r.sub.ready;
    await emit('B', 1);
    const removedA = (await latest.clear('', topics.price.name, 'prices.A'))!;
    await channel.publish(clearedMessage(removedA));
    await channel.publish(clearedMessage(removedA)); // repeated (two transports, a resync): once
    await channel.publish(clearedMessage({ tenant: '', topic: topics.price.name, subject: 'prices.Z', version: 4, reason: 'cleared' }));
    expect(r.got).toEqual([
      ['value', 'prices.A', 1],
      ['value', 'prices.B', 1],
      ['cleared', 'prices.A', 2],
    ]);
  });

  it('a removal whose message was lost reaches the receivers that hold the value when the hub re-reads after onLost', async () => {
    const { channel, latest, emit, receiver } = setup();
    await emit('A', 1);
    await emit('B', 1);
    const r = receiver();
    await r.sub.ready;
    await latest.clear('', topics.price.name, 'prices.A'); // its notice never arrives
    channel.lose();
    await expect.poll(() => r.got.length).toBe(3);
    expect(r.got).toEqual([
      ['value', 'prices.A', 1],
      ['value', 'prices.B', 1],
      ['cleared', 'prices.A', 2],
    ]);
  });

  it('a resume reads the tombstones of its pattern; a new receiver does not', async () => {
    const { latest, emit, receiver } = setup();
    await emit('A', 1);
    await latest.clear('', topics.price.name, 'prices.A');
    const fresh = receiver();
    const resumed = receiver({ after: 0 });
    await Promise.all([fresh.sub.ready, resumed.sub.ready]);
    expect(fresh.got).toEqual([]);
    expect(resumed.got).toEqual([['cleared', 'prices.A', 2]]);
  });

  it('a removal that races the snapshot is handed over after the values read, in version order', async () => {
    const { channel, latest, emit, receiver } = setup();
    await emit('A', 1);
    const r = receiver();
    // Published while the snapshot is being read (before `ready`): it waits in the buffer.
    const removed = (await latest.clear('', topics.price.name, 'prices.A'))!;
    await channel.publish(clearedMessage(removed));
    await r.sub.ready;
    await emit('A', 7);
    // The snapshot was read before the clear (version 1); the removal waited for it, then the
    // new value: each once, in version order.
    expect(r.got).toEqual([
      ['value', 'prices.A', 1],
      ['cleared', 'prices.A', 2],
      ['value', 'prices.A', 3],
    ]);
  });

  it('a resume whose removal is pruned while its removals are read is told its snapshot is complete', async () => {
    const channel = testChannel();
    const store = memoryLatest(() => undefined, () => 1_000, async () => 5);
    const e = createEnvelope(topics.price, { symbol: 'A', price: 1 });
    await store.upsert([e]);
    await store.clear('', topics.price.name, 'prices.A');
    expect(await store.settle(0, 10)).toBe(1); // at log position 5
    // The prune lands between the hub's first look at the horizon and its read of the removals.
    const racing = { ...store, tombstones: async (q: Parameters<typeof store.tombstones>[0]) => (await store.prune(0, 10), store.tombstones(q)) };
    const hub = new LiveHub(topics, channel, racing);
    const got: string[][] = [];
    const sub = hub.subscribe({
      pattern: 'prices.*',
      tenant: '',
      resume: { after: 3 },
      visible: () => true,
      deliver: (ev: LiveEvent) => void got.push(['value', ev.envelope.subject]),
      cleared: (c: LatestCleared) => void got.push([c.reason, c.subject]),
      restated: () => void got.push(['restated']),
    });
    await sub.ready;
    expect(got).toEqual([['restated']]);
    expect(await store.prunedThrough('')).toBe(5);
  });
});
