// The bus's contract, behaviour by behaviour: routing, ordering, each backpressure policy, the
// observer, iterators, unsubscribe and close. No timers: "has not happened yet" is checked after
// `flush()` (a macrotask turn, so every pending microtask has run) and progress is driven by gates.
import { describe, expect, it } from 'vitest';
import {
  createBus,
  type Bus,
  type BusMessage,
  type BusObserver,
  type DropReason,
  type Subscription,
} from './bus.js';
import { FeteError, InvalidPatternError, InvalidSubjectError, isFeteError } from './errors.js';

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Tracks whether a promise settled, and how, without awaiting it. */
function track<T>(p: Promise<T>): { settled: boolean; value?: T; error?: unknown } {
  const state: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  p.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error: unknown) => Object.assign(state, { settled: true, error }),
  );
  return state;
}

/** An observer that records every hook call as a line. */
function recorder(): { observer: BusObserver<unknown>; log: string[]; drops: [unknown, DropReason][] } {
  const log: string[] = [];
  const drops: [unknown, DropReason][] = [];
  return {
    log,
    drops,
    observer: {
      onPublish: (m) => log.push(`publish ${m.subject}`),
      onDeliver: (m, s) => log.push(`deliver ${m.subject} -> ${s.pattern}`),
      onDrop: (m, s, reason) => {
        drops.push([m.payload, reason]);
        log.push(`drop ${m.subject} -> ${s.pattern} (${reason})`);
      },
      onError: (err, m, s) => log.push(`error ${(err as Error).message} at ${m.subject} -> ${s.pattern}`),
    },
  };
}

async function take<P>(it: AsyncIterator<BusMessage<P>, undefined>, n: number): Promise<P[]> {
  const out: P[] = [];
  for (let i = 0; i < n; i++) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value.payload);
  }
  return out;
}

async function readAll<P>(sub: Subscription<P>): Promise<P[]> {
  const out: P[] = [];
  for await (const msg of sub) out.push(msg.payload);
  return out;
}

describe('routing', () => {
  it('delivers to every subscription whose pattern matches, and only those', async () => {
    const bus = createBus<number>();
    const got: Record<string, string[]> = {};
    for (const p of ['orders.*.status', 'orders.>', '>', 'orders.o-1.status', 'users.*', 'orders.*'])
      bus.subscribe(p, (m) => void (got[p] ??= []).push(m.subject));

    expect(await bus.publish('orders.o-1.status', 1)).toBe(4);
    expect(await bus.publish('orders.o-2', 2)).toBe(3);
    expect(await bus.publish('users.u-1', 3)).toBe(2);
    await bus.close();

    expect(got).toEqual({
      'orders.*.status': ['orders.o-1.status'],
      'orders.>': ['orders.o-1.status', 'orders.o-2'],
      '>': ['orders.o-1.status', 'orders.o-2', 'users.u-1'],
      'orders.o-1.status': ['orders.o-1.status'],
      'users.*': ['users.u-1'],
      'orders.*': ['orders.o-2'],
    });
  });

  it('publish with no matching subscription resolves to 0', async () => {
    const bus = createBus();
    bus.subscribe('a.b', () => {});
    expect(await bus.publish('a.c', null)).toBe(0);
  });

  it('subscribe rejects an invalid pattern with InvalidPatternError', () => {
    const bus = createBus();
    expect(() => bus.subscribe('a.>.b', () => {})).toThrow(InvalidPatternError);
    expect(() => bus.subscribe('', () => {})).toThrow(InvalidPatternError);
  });

  it('publish rejects an invalid subject with InvalidSubjectError and routes nothing', async () => {
    const { observer, log } = recorder();
    const bus = createBus({ observer });
    bus.subscribe('>', () => {});
    await expect(bus.publish('a.*', 1)).rejects.toBeInstanceOf(InvalidSubjectError);
    await expect(bus.publish('a..b', 1)).rejects.toBeInstanceOf(InvalidSubjectError);
    // Valid subjects are remembered; invalid ones never are.
    await expect(bus.publish('a.*', 1)).rejects.toBeInstanceOf(InvalidSubjectError);
    await expect(bus.publish(42 as unknown as string, 1)).rejects.toBeInstanceOf(InvalidSubjectError);
    expect(log).toEqual([]);
  });

  it('invalid options throw at subscribe', () => {
    const bus = createBus();
    expect(() => bus.subscribe('a', { bufferSize: 0 })).toThrow(RangeError);
    expect(() => bus.subscribe('a', { bufferSize: 1.5 })).toThrow(RangeError);
    expect(() => bus.subscribe('a', { backpressure: 'nope' as never })).toThrow(TypeError);
    expect(() => createBus({ bufferSize: -1 })).toThrow(RangeError);
  });

  it('one message object is shared by all subscriptions and carries subject and payload', async () => {
    const bus = createBus<{ n: number }>();
    const seen: BusMessage<{ n: number }>[] = [];
    bus.subscribe('a.*', (m) => void seen.push(m));
    bus.subscribe('a.>', (m) => void seen.push(m));
    const payload = { n: 1 };
    await bus.publish('a.b', payload);
    await bus.close();
    expect(seen).toHaveLength(2);
    expect(seen[0]).toBe(seen[1]);
    expect(seen[0]).toEqual({ subject: 'a.b', payload });
    expect(seen[0]!.payload).toBe(payload);
  });
});

describe('handler delivery', () => {
  it('delivers in publish order', async () => {
    const bus = createBus<number>();
    const got: number[] = [];
    bus.subscribe('n', (m) => void got.push(m.payload));
    for (let i = 0; i < 100; i++) void bus.publish('n', i);
    await bus.close();
    expect(got).toEqual([...Array(100).keys()]);
  });

  it('runs an async handler one message at a time, awaiting each before the next', async () => {
    const bus = createBus<number>();
    const events: string[] = [];
    const gates = [gate(), gate(), gate()];
    bus.subscribe('n', async (m) => {
      events.push(`start ${m.payload}`);
      await gates[m.payload]!.promise;
      events.push(`end ${m.payload}`);
    });
    for (let i = 0; i < 3; i++) await bus.publish('n', i);
    await flush();
    expect(events).toEqual(['start 0']);
    gates[1]!.open(); // out of order on purpose: 1 must still wait for 0
    await flush();
    expect(events).toEqual(['start 0']);
    gates[0]!.open();
    await flush();
    expect(events).toEqual(['start 0', 'end 0', 'start 1', 'end 1', 'start 2']);
    gates[2]!.open();
    await bus.close();
    expect(events.at(-1)).toBe('end 2');
  });

  it('publish resolves once the message is buffered, not when the handler finishes', async () => {
    const bus = createBus();
    const g = gate();
    let handled = false;
    bus.subscribe('a', async () => {
      await g.promise;
      handled = true;
    });
    expect(await bus.publish('a', 1)).toBe(1);
    expect(handled).toBe(false);
    g.open();
    await bus.close();
    expect(handled).toBe(true);
  });

  it('handlers never run inside publish (delivery is asynchronous)', async () => {
    const bus = createBus();
    let calls = 0;
    bus.subscribe('a', () => void calls++);
    const p = bus.publish('a', 1);
    expect(calls).toBe(0);
    await p;
    await flush();
    expect(calls).toBe(1);
  });

  it('a throwing or rejecting handler is reported to onError and later messages still arrive', async () => {
    const { observer, log } = recorder();
    const bus = createBus<number>({ observer });
    const sync: number[] = [];
    const async: number[] = [];
    bus.subscribe('s', (m) => {
      if (m.payload === 1) throw new Error('sync boom');
      sync.push(m.payload);
    });
    bus.subscribe('a', async (m) => {
      await Promise.resolve();
      if (m.payload === 1) throw new Error('async boom');
      async.push(m.payload);
    });
    for (const p of [0, 1, 2]) {
      await bus.publish('s', p);
      await bus.publish('a', p);
    }
    await bus.close();
    expect(sync).toEqual([0, 2]);
    expect(async).toEqual([0, 2]);
    expect(log.filter((l) => l.startsWith('error'))).toEqual(['error sync boom at s -> s', 'error async boom at a -> a']);
  });

  it('the handler receives its subscription and may unsubscribe from inside: nothing more is delivered', async () => {
    const bus = createBus<number>();
    const got: number[] = [];
    const sub = bus.subscribe('a', (m, s) => {
      got.push(m.payload);
      if (m.payload === 2) s.unsubscribe();
    });
    for (let i = 1; i <= 5; i++) void bus.publish('a', i); // all five buffered before the handler runs
    await flush();
    expect(got).toEqual([1, 2]);
    expect(sub.closed).toBe(true);
    expect(sub.dropped).toBe(3);
  });
});

describe("backpressure 'drop-newest' (default)", () => {
  it('a full buffer refuses the incoming message and counts it as dropped (reason full)', async () => {
    const { observer, drops } = recorder();
    const bus = createBus<number>({ observer });
    const sub = bus.subscribe('a', { bufferSize: 2 });
    const accepted = [];
    for (let i = 1; i <= 5; i++) accepted.push(await bus.publish('a', i));
    expect(accepted).toEqual([1, 1, 0, 0, 0]);
    expect(sub.dropped).toBe(3);
    expect(bus.dropped).toBe(3);
    expect(sub.pending).toBe(2);
    expect(drops).toEqual([
      [3, 'full'],
      [4, 'full'],
      [5, 'full'],
    ]);
    const it = sub[Symbol.asyncIterator]();
    expect(await take(it, 2)).toEqual([1, 2]);
    // Room again: the next publish is accepted.
    expect(await bus.publish('a', 6)).toBe(1);
    expect(await take(it, 1)).toEqual([6]);
  });

  it('the default buffer holds 1024 messages', async () => {
    const bus = createBus<number>();
    const sub = bus.subscribe('a');
    for (let i = 0; i < 1030; i++) await bus.publish('a', i);
    expect(sub.pending).toBe(1024);
    expect(sub.dropped).toBe(6);
  });

  it('the bus-wide defaults apply to subscriptions that do not set their own', async () => {
    const bus = createBus<number>({ bufferSize: 1, backpressure: 'drop-oldest' });
    const sub = bus.subscribe('a');
    for (let i = 0; i < 3; i++) await bus.publish('a', i);
    expect(await take(sub[Symbol.asyncIterator](), 1)).toEqual([2]);
  });

  it('a slow handler drops what does not fit while it runs, and the message it holds is not counted', async () => {
    const bus = createBus<number>();
    const g = gate();
    const got: number[] = [];
    const sub = bus.subscribe(
      'a',
      async (m) => {
        await g.promise;
        got.push(m.payload);
      },
      { bufferSize: 1 },
    );
    await bus.publish('a', 1);
    await flush(); // the handler holds 1; the buffer is empty again
    expect(await bus.publish('a', 2)).toBe(1);
    expect(await bus.publish('a', 3)).toBe(0);
    g.open();
    await bus.close();
    expect(got).toEqual([1, 2]);
    expect(sub.dropped).toBe(1);
  });
});

describe("backpressure 'drop-oldest'", () => {
  it('a full buffer evicts the oldest message (reason evicted) and accepts the new one', async () => {
    const { observer, drops } = recorder();
    const bus = createBus<number>({ observer });
    const sub = bus.subscribe('a', { bufferSize: 2, backpressure: 'drop-oldest' });
    const accepted = [];
    for (let i = 1; i <= 5; i++) accepted.push(await bus.publish('a', i));
    expect(accepted).toEqual([1, 1, 1, 1, 1]);
    expect(sub.dropped).toBe(3);
    expect(bus.dropped).toBe(3);
    expect(drops).toEqual([
      [1, 'evicted'],
      [2, 'evicted'],
      [3, 'evicted'],
    ]);
    expect(await take(sub[Symbol.asyncIterator](), 2)).toEqual([4, 5]);
  });
});

describe("backpressure 'block'", () => {
  it('publish waits while the buffer is full and resumes when the consumer takes one', async () => {
    const bus = createBus<number>();
    const sub = bus.subscribe('a', { bufferSize: 1, backpressure: 'block' });
    const it = sub[Symbol.asyncIterator]();
    expect(await bus.publish('a', 1)).toBe(1);
    const second = track(bus.publish('a', 2));
    await flush();
    expect(second.settled).toBe(false);
    expect(await take(it, 1)).toEqual([1]);
    await flush();
    expect(second).toEqual({ settled: true, value: 1 });
    expect(await take(it, 1)).toEqual([2]);
    expect(sub.dropped).toBe(0);
  });

  it('blocked publishers are admitted first come, first served; a later publish cannot overtake', async () => {
    const bus = createBus<number>();
    const sub = bus.subscribe('a', { bufferSize: 1, backpressure: 'block' });
    const it = sub[Symbol.asyncIterator]();
    await bus.publish('a', 1);
    const p2 = track(bus.publish('a', 2));
    const p3 = track(bus.publish('a', 3));
    await flush();
    expect([p2.settled, p3.settled]).toEqual([false, false]);
    expect(await take(it, 1)).toEqual([1]);
    await flush();
    expect([p2.settled, p3.settled]).toEqual([true, false]);
    const p4 = track(bus.publish('a', 4));
    expect(await take(it, 1)).toEqual([2]);
    await flush();
    expect([p3.settled, p4.settled]).toEqual([true, false]);
    expect(await take(it, 2)).toEqual([3, 4]);
    await flush();
    expect(p4.settled).toBe(true);
  });

  it('a handler taking a message makes room: a third publish waits until the handler finishes the first', async () => {
    const bus = createBus<number>();
    const gates = [gate(), gate(), gate()];
    const got: number[] = [];
    bus.subscribe(
      'a',
      async (m) => {
        await gates[m.payload]!.promise;
        got.push(m.payload);
      },
      { bufferSize: 1, backpressure: 'block' },
    );
    await bus.publish('a', 0);
    await flush(); // the handler holds 0
    await bus.publish('a', 1); // buffered
    const third = track(bus.publish('a', 2));
    await flush();
    expect(third.settled).toBe(false);
    gates[0]!.open();
    await flush(); // handler finished 0 and took 1: room for 2
    expect(third).toEqual({ settled: true, value: 1 });
    gates[1]!.open();
    gates[2]!.open();
    await bus.close();
    expect(got).toEqual([0, 1, 2]);
  });

  it('aborting the signal rejects with FeteError ABORTED and the message is never delivered there', async () => {
    const { observer, drops } = recorder();
    const bus = createBus<number>({ observer });
    const sub = bus.subscribe('a', { bufferSize: 1, backpressure: 'block' });
    await bus.publish('a', 1);
    const ac = new AbortController();
    const blocked = bus.publish('a', 2, { signal: ac.signal });
    const reason = new Error('user gave up');
    ac.abort(reason);
    const err = await blocked.catch((e: unknown) => e);
    expect(isFeteError(err, 'ABORTED')).toBe(true);
    expect((err as FeteError).cause).toBe(reason);
    expect(drops).toEqual([[2, 'aborted']]);
    expect(sub.dropped).toBe(1);
    // The waiter is gone: taking 1 admits nothing, and 3 is accepted straight away.
    const it = sub[Symbol.asyncIterator]();
    expect(await take(it, 1)).toEqual([1]);
    expect(await bus.publish('a', 3)).toBe(1);
    expect(await take(it, 1)).toEqual([3]);
  });

  it('on abort, subscriptions that already accepted the message keep it', async () => {
    const bus = createBus<string>();
    const full = bus.subscribe('a', { bufferSize: 1, backpressure: 'block' });
    const open = bus.subscribe('a', { bufferSize: 10, backpressure: 'block' });
    await bus.publish('a', 'first');
    const ac = new AbortController();
    const p = bus.publish('a', 'second', { signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' });
    expect(await take(open[Symbol.asyncIterator](), 2)).toEqual(['first', 'second']);
    expect(full.pending).toBe(1);
    expect(full.dropped).toBe(1);
    expect(open.dropped).toBe(0);
  });

  it('an already aborted signal rejects ABORTED before anything is routed', async () => {
    const { observer, log } = recorder();
    const bus = createBus({ observer });
    const sub = bus.subscribe('a');
    await expect(bus.publish('a', 1, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ABORTED' });
    expect(log).toEqual([]);
    expect(sub.pending).toBe(0);
  });

  it('a signal that is never aborted does not matter once the publish is admitted', async () => {
    const bus = createBus<number>();
    const sub = bus.subscribe('a', { bufferSize: 1, backpressure: 'block' });
    const ac = new AbortController();
    await bus.publish('a', 1, { signal: ac.signal });
    const p = bus.publish('a', 2, { signal: ac.signal });
    const it = sub[Symbol.asyncIterator]();
    await take(it, 1);
    expect(await p).toBe(1);
    ac.abort(); // too late to matter
    expect(await take(it, 1)).toEqual([2]);
    expect(sub.dropped).toBe(0);
  });

  it('close wakes blocked publishers: they resolve without delivering there (reason closed)', async () => {
    const { observer, drops } = recorder();
    const bus = createBus<number>({ observer });
    const sub = bus.subscribe('a', { bufferSize: 1, backpressure: 'block' });
    await bus.publish('a', 1);
    const blocked = bus.publish('a', 2);
    await flush();
    await bus.close();
    expect(await blocked).toBe(0);
    expect(drops).toEqual([[2, 'closed']]);
    // What was accepted before close is still delivered.
    expect(await readAll(sub)).toEqual([1]);
  });

  it('unsubscribe wakes blocked publishers: they resolve without delivering there (reason unsubscribed)', async () => {
    const { observer, drops } = recorder();
    const bus = createBus<number>({ observer });
    const sub = bus.subscribe('a', { bufferSize: 1, backpressure: 'block' });
    const other = bus.subscribe('a', { bufferSize: 5, backpressure: 'block' });
    await bus.publish('a', 1);
    const blocked = bus.publish('a', 2);
    await flush();
    sub.unsubscribe();
    expect(await blocked).toBe(1); // only `other` accepted it
    expect(drops).toEqual([
      [1, 'unsubscribed'],
      [2, 'unsubscribed'],
    ]);
    expect(await take(other[Symbol.asyncIterator](), 2)).toEqual([1, 2]);
  });
});

describe('predicates', () => {
  it('only messages the predicate accepts are buffered; the rest are neither delivered nor dropped', async () => {
    const bus = createBus<number>();
    const got: number[] = [];
    const sub = bus.subscribe('n', (m) => void got.push(m.payload), { predicate: (m) => m.payload % 2 === 0 });
    const accepted = [];
    for (let i = 0; i < 6; i++) accepted.push(await bus.publish('n', i));
    await bus.close();
    expect(got).toEqual([0, 2, 4]);
    expect(accepted).toEqual([1, 0, 1, 0, 1, 0]);
    expect(sub.dropped).toBe(0);
  });

  it('a predicate runs before buffering, so filtered messages do not take buffer room', async () => {
    const bus = createBus<number>();
    const sub = bus.subscribe('n', { bufferSize: 2, predicate: (m) => m.payload > 10 });
    for (const n of [1, 2, 3, 11, 12]) await bus.publish('n', n);
    expect(sub.dropped).toBe(0);
    expect(await take(sub[Symbol.asyncIterator](), 2)).toEqual([11, 12]);
  });

  it('a throwing predicate skips the message for that subscription, reports onError, and breaks nothing else', async () => {
    const { observer, log } = recorder();
    const bus = createBus<number>({ observer });
    const got: number[] = [];
    bus.subscribe('n', () => {}, {
      predicate: (m) => {
        if (m.payload === 1) throw new Error('bad predicate');
        return true;
      },
    });
    bus.subscribe('n', (m) => void got.push(m.payload));
    expect(await bus.publish('n', 1)).toBe(1);
    await bus.close();
    expect(got).toEqual([1]);
    expect(log).toContain('error bad predicate at n -> n');
  });
});

describe('observer', () => {
  it('reports publish, deliver and drop in the order they happen', async () => {
    const { observer, log } = recorder();
    const bus = createBus({ observer });
    const sub = bus.subscribe('a.*', { bufferSize: 1 });
    bus.subscribe('a.>', () => {});
    void bus.publish('a.b', 1);
    void bus.publish('a.c', 2);
    await flush();
    await take(sub[Symbol.asyncIterator](), 1);
    expect(log).toEqual([
      'publish a.b',
      'publish a.c',
      'drop a.c -> a.* (full)',
      // the handler's drain runs after both publishes, in one microtask
      'deliver a.b -> a.>',
      'deliver a.c -> a.>',
      'deliver a.b -> a.*',
    ]);
  });

  it('onDeliver receives the subscription the message goes to', async () => {
    const seen: Subscription<unknown>[] = [];
    const bus = createBus({ observer: { onDeliver: (_m, s) => void seen.push(s) } });
    const sub = bus.subscribe('a', () => {});
    await bus.publish('a', 1);
    await bus.close();
    expect(seen).toEqual([sub]);
    expect(seen[0]).toBe(sub);
  });

  it('a throwing observer breaks neither publishing, delivery, nor counting', async () => {
    const boom = (): never => {
      throw new Error('observer bug');
    };
    const bus = createBus<number>({
      observer: { onPublish: boom, onDeliver: boom, onDrop: boom, onError: boom },
    });
    const got: number[] = [];
    bus.subscribe('a', (m) => {
      if (m.payload === 2) throw new Error('handler bug');
      got.push(m.payload);
    });
    const small = bus.subscribe('a', { bufferSize: 1 });
    for (let i = 1; i <= 3; i++) expect(await bus.publish('a', i)).toBeGreaterThan(0);
    await bus.close();
    expect(got).toEqual([1, 3]);
    expect(small.dropped).toBe(2);
    expect(bus.dropped).toBe(2);
    expect(await readAll(small)).toEqual([1]);
  });
});

describe('iterator subscriptions', () => {
  it('for await yields buffered and later messages in order', async () => {
    const bus = createBus<number>();
    const sub = bus.subscribe('a');
    await bus.publish('a', 1);
    const got: number[] = [];
    const reading = (async () => {
      for await (const m of sub) {
        got.push(m.payload);
        if (got.length === 3) break;
      }
    })();
    await flush();
    expect(got).toEqual([1]);
    await bus.publish('a', 2);
    await bus.publish('a', 3);
    await reading;
    expect(got).toEqual([1, 2, 3]);
  });

  it('breaking out of the loop unsubscribes', async () => {
    const bus = createBus<number>();
    const sub = bus.subscribe('a');
    for (let i = 0; i < 3; i++) await bus.publish('a', i);
    for await (const m of sub) if (m.payload === 0) break;
    expect(sub.closed).toBe(true);
    expect(sub.dropped).toBe(2); // 1 and 2 were still buffered
    expect(await bus.publish('a', 9)).toBe(0);
  });

  it('a throw inside the loop unsubscribes too', async () => {
    const bus = createBus();
    const sub = bus.subscribe('a');
    await bus.publish('a', 1);
    await expect(
      (async () => {
        for await (const _ of sub) throw new Error('consumer failed');
      })(),
    ).rejects.toThrow('consumer failed');
    expect(sub.closed).toBe(true);
  });

  it('a pending next() is answered by the next publish', async () => {
    const bus = createBus<number>();
    const it = bus.subscribe('a')[Symbol.asyncIterator]();
    const next = track(it.next());
    await flush();
    expect(next.settled).toBe(false);
    expect(await bus.publish('a', 7)).toBe(1);
    await flush();
    expect(next.value).toEqual({ done: false, value: { subject: 'a', payload: 7 } });
  });

  it('unsubscribe ends a pending next() with done', async () => {
    const bus = createBus();
    const sub = bus.subscribe('a');
    const next = sub[Symbol.asyncIterator]().next();
    sub.unsubscribe();
    expect(await next).toEqual({ done: true, value: undefined });
  });

  it('after bus close the iterator yields what was buffered, then ends', async () => {
    const bus = createBus<number>();
    const sub = bus.subscribe('a');
    await bus.publish('a', 1);
    await bus.publish('a', 2);
    await bus.close(); // does not wait for iterators
    expect(sub.closed).toBe(true);
    expect(await readAll(sub)).toEqual([1, 2]);
  });

  it('close ends an idle pending next() with done', async () => {
    const bus = createBus();
    const sub = bus.subscribe('a');
    const next = sub[Symbol.asyncIterator]().next();
    await bus.close();
    expect(await next).toEqual({ done: true, value: undefined });
  });

  it('a subscription with a handler cannot be iterated, and an iterator cannot be taken twice', () => {
    const bus = createBus();
    const withHandler = bus.subscribe('a', () => {});
    expect(() => withHandler[Symbol.asyncIterator]()).toThrow(TypeError);
    const plain = bus.subscribe('a');
    plain[Symbol.asyncIterator]();
    expect(() => plain[Symbol.asyncIterator]()).toThrow(TypeError);
  });
});

describe('unsubscribe', () => {
  it('delivers nothing after it returns, discarding what was buffered (reason unsubscribed)', async () => {
    const { observer, drops } = recorder();
    const bus = createBus<number>({ observer });
    const got: number[] = [];
    const sub = bus.subscribe('a', (m) => void got.push(m.payload));
    // Not awaited: all three are buffered and the handler's drain (a microtask) has not run yet.
    for (let i = 1; i <= 3; i++) void bus.publish('a', i);
    sub.unsubscribe();
    await flush();
    expect(got).toEqual([]);
    expect(drops).toEqual([
      [1, 'unsubscribed'],
      [2, 'unsubscribed'],
      [3, 'unsubscribed'],
    ]);
    expect(await bus.publish('a', 4)).toBe(0);
    expect(sub.dropped).toBe(3);
  });

  it('is idempotent and leaves other subscriptions alone', async () => {
    const bus = createBus<number>();
    const a = bus.subscribe('x');
    const b = bus.subscribe('x');
    a.unsubscribe();
    a.unsubscribe();
    expect(await bus.publish('x', 1)).toBe(1);
    expect(b.pending).toBe(1);
  });

  it('drained() resolves once the buffer is empty and the running handler finished', async () => {
    const bus = createBus<number>();
    const g = gate();
    const sub = bus.subscribe('a', async () => {
      await g.promise;
    });
    await expect(sub.drained()).resolves.toBeUndefined(); // nothing to drain
    await bus.publish('a', 1);
    await bus.publish('a', 2);
    const drained = track(sub.drained());
    await flush();
    expect(drained.settled).toBe(false);
    g.open();
    await flush();
    expect(drained.settled).toBe(true);
    expect(sub.pending).toBe(0);
  });
});

describe('Symbol.asyncDispose', () => {
  it('disposing a subscription unsubscribes and waits for the running handler call', async () => {
    const bus = createBus();
    const g = gate();
    let finished = false;
    const sub = bus.subscribe('a', async () => {
      await g.promise;
      finished = true;
    });
    await bus.publish('a', 1);
    await bus.publish('a', 2);
    await flush(); // handler runs 1; 2 is buffered
    const disposed = track(sub[Symbol.asyncDispose]());
    expect(sub.closed).toBe(true);
    expect(sub.dropped).toBe(1);
    await flush();
    expect(disposed.settled).toBe(false);
    g.open();
    await flush();
    expect(disposed.settled).toBe(true);
    expect(finished).toBe(true);
  });

  it('await using unsubscribes a subscription, and closes a bus, at the end of the scope', async () => {
    let bus: Bus<unknown>;
    let sub: Subscription<unknown>;
    {
      await using b = createBus();
      bus = b;
      {
        await using s = bus.subscribe('a');
        sub = s;
        expect(sub.closed).toBe(false);
      }
      expect(sub.closed).toBe(true);
      expect(bus.closed).toBe(false);
    }
    expect(bus.closed).toBe(true);
  });
});

describe('close', () => {
  it('is idempotent; later publish rejects CLOSED and later subscribe throws CLOSED', async () => {
    const bus = createBus();
    bus.subscribe('a', () => {});
    const first = bus.close();
    const second = bus.close();
    expect(bus.closed).toBe(true);
    await first;
    await second;
    await bus.close();
    await expect(bus.publish('a', 1)).rejects.toSatisfy((e: unknown) => isFeteError(e, 'CLOSED'));
    expect(() => bus.subscribe('a', () => {})).toThrow(FeteError);
    expect(() => bus.subscribe('a', () => {})).toThrow(expect.objectContaining({ code: 'CLOSED' }));
  });

  it('resolves only after handlers processed every message accepted before close', async () => {
    const bus = createBus<number>();
    const gates = [gate(), gate(), gate()];
    const got: number[] = [];
    bus.subscribe('a', async (m) => {
      await gates[m.payload]!.promise;
      got.push(m.payload);
    });
    for (let i = 0; i < 3; i++) await bus.publish('a', i);
    const closed = track(bus.close());
    for (const g of gates) {
      await flush();
      expect(closed.settled).toBe(false);
      g.open();
    }
    await flush();
    expect(closed.settled).toBe(true);
    expect(got).toEqual([0, 1, 2]);
  });

  it('nothing is delivered after close resolves', async () => {
    const { observer, log } = recorder();
    const bus = createBus({ observer });
    let calls = 0;
    bus.subscribe('a', () => void calls++);
    await bus.publish('a', 1);
    await bus.close();
    const before = [calls, log.length];
    await bus.publish('a', 2).catch(() => {});
    await flush();
    expect([calls, log.length]).toEqual(before);
    expect(calls).toBe(1);
  });

  it('unsubscribing while close drains discards the rest and lets close resolve', async () => {
    const bus = createBus<number>();
    const g = gate();
    const got: number[] = [];
    const sub = bus.subscribe('a', async (m) => {
      await g.promise;
      got.push(m.payload);
    });
    for (let i = 0; i < 3; i++) await bus.publish('a', i);
    await flush();
    const closed = bus.close();
    sub.unsubscribe();
    g.open();
    await closed;
    expect(got).toEqual([0]);
    expect(sub.dropped).toBe(2);
  });

  it('close called again from a hook while closing returns the same promise, resolved after handlers', async () => {
    const g = gate();
    let inner: Promise<void> | undefined;
    let handled = false;
    const bus: Bus<number> = createBus<number>({ observer: { onDrop: () => void (inner = bus.close()) } });
    bus.subscribe('a', async () => {
      await g.promise;
      handled = true;
    });
    bus.subscribe('a', { bufferSize: 1, backpressure: 'block' });
    await bus.publish('a', 1);
    const blocked = bus.publish('a', 2); // waits on the second subscription
    const outer = bus.close(); // releases it: onDrop('closed') calls close() again
    expect(inner).toBe(outer);
    expect(await blocked).toBe(1);
    const state = track(outer);
    await flush();
    expect(state.settled).toBe(false);
    g.open();
    await outer;
    expect(handled).toBe(true);
  });

  it('a handler that publishes during close gets CLOSED, and close still resolves', async () => {
    const { observer, log } = recorder();
    const bus = createBus<number>({ observer });
    bus.subscribe('a', async (m) => {
      await bus.publish('b', m.payload);
    });
    void bus.publish('a', 1); // buffered; its handler runs only once close has begun
    await bus.close();
    expect(log.filter((l) => l.startsWith('error'))).toEqual(['error the bus is closed at a -> a']);
  });
});

describe('user code that unsubscribes at awkward moments', () => {
  it('an onDeliver hook that unsubscribes while an iterator waits does not break the publish', async () => {
    let sub!: Subscription<number>;
    const bus = createBus<number>({ observer: { onDeliver: () => sub.unsubscribe() } });
    sub = bus.subscribe('a');
    const next = sub[Symbol.asyncIterator]().next();
    expect(await bus.publish('a', 1)).toBe(1);
    // Handed over as onDeliver ran; nothing after it.
    expect(await next).toEqual({ done: false, value: { subject: 'a', payload: 1 } });
    expect(await bus.publish('a', 2)).toBe(0);
  });

  it('a predicate that unsubscribes its own subscription leaves nothing buffered and nothing owed', async () => {
    const bus = createBus<number>();
    let calls = 0;
    const sub: Subscription<number> = bus.subscribe('a', () => void calls++, {
      predicate: () => {
        sub.unsubscribe();
        return true;
      },
    });
    expect(await bus.publish('a', 1)).toBe(0);
    await bus.close();
    expect([calls, sub.pending, sub.dropped]).toEqual([0, 0, 0]);
  });

  it('an onDrop hook that unsubscribes during an eviction leaves the subscription empty', async () => {
    let sub!: Subscription<number>;
    const bus = createBus<number>({ observer: { onDrop: (_m, _s, reason) => reason === 'evicted' && sub.unsubscribe() } });
    sub = bus.subscribe('a', { bufferSize: 1, backpressure: 'drop-oldest' });
    await bus.publish('a', 1);
    expect(await bus.publish('a', 2)).toBe(0);
    expect(sub.pending).toBe(0);
    expect(sub.dropped).toBe(1);
  });
});

describe('counting', () => {
  it('bus.dropped is the sum over subscriptions, unsubscribed ones included', async () => {
    const bus = createBus<number>();
    const a = bus.subscribe('x', { bufferSize: 1 });
    const b = bus.subscribe('x', { bufferSize: 2, backpressure: 'drop-oldest' });
    for (let i = 0; i < 4; i++) await bus.publish('x', i);
    expect([a.dropped, b.dropped]).toEqual([3, 2]);
    a.unsubscribe(); // discards 1 more
    expect(a.dropped).toBe(4);
    expect(bus.dropped).toBe(6);
  });
});
