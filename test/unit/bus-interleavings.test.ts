// Property test of the bus under random interleavings of subscribe, publish (some abortable),
// abort, unsubscribe, consumer progress (handler gates, iterator pulls, microtask and macrotask
// turns) and close. A model records, at each publish, which live subscriptions it matched; at the
// end every matched message must be delivered or dropped exactly once, in order, never after
// unsubscribe returned, with drop reasons the subscription's policy allows.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createBus,
  type BackpressurePolicy,
  type BusMessage,
  type DropReason,
  type Subscription,
} from '../../shared/bus.js';
import { isFeteError } from '../../shared/errors.js';
import { matches } from '../../shared/subject.js';

const PATTERNS = ['a.b', 'a.*', 'a.>', '>', '*.b', 'c'] as const;
const SUBJECTS = ['a.b', 'a.c', 'a.b.c', 'c', 'd.b'] as const;
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

type Mode = 'sync' | 'async' | 'iter';
type Op =
  | { t: 'sub'; pattern: number; mode: Mode; policy: BackpressurePolicy; bufferSize: number; pred: boolean; selfUnsubAfter: number }
  | { t: 'pub'; subject: number; abortable: boolean }
  | { t: 'abort'; i: number }
  | { t: 'unsub'; i: number }
  | { t: 'release'; i: number }
  | { t: 'pull'; i: number }
  | { t: 'micro' }
  | { t: 'tick' }
  | { t: 'close' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('sub' as const),
      pattern: fc.nat(PATTERNS.length - 1),
      mode: fc.constantFrom<Mode>('sync', 'async', 'iter'),
      policy: fc.constantFrom<BackpressurePolicy>('drop-newest', 'drop-oldest', 'block'),
      bufferSize: fc.integer({ min: 1, max: 3 }),
      pred: fc.boolean(),
      // 0: never; n: the handler unsubscribes itself on its n-th message
      selfUnsubAfter: fc.nat(4),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({ t: fc.constant('pub' as const), subject: fc.nat(SUBJECTS.length - 1), abortable: fc.boolean() }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('abort' as const), i: fc.nat(50) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('unsub' as const), i: fc.nat(50) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('release' as const), i: fc.nat(50) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('pull' as const), i: fc.nat(50) }) },
  { weight: 2, arbitrary: fc.constant({ t: 'micro' as const }) },
  { weight: 2, arbitrary: fc.constant({ t: 'tick' as const }) },
);

// Close at most once, at a random point, in about half the runs: an op with a weight would
// close most runs early and leave little but rejected publishes after it.
const opsArb: fc.Arbitrary<Op[]> = fc
  .tuple(fc.array(opArb, { minLength: 1, maxLength: 60, size: 'max' }), fc.option(fc.nat(), { freq: 2 }))
  .map(([ops, at]) => (at === null ? ops : ops.toSpliced(at % (ops.length + 1), 0, { t: 'close' as const })));

interface SubModel {
  sub: Subscription<number>;
  op: Extract<Op, { t: 'sub' }>;
  iterator: AsyncIterator<BusMessage<number>, undefined> | undefined;
  unsubscribed: boolean;
  matched: number[];
  delivered: number[];
  consumed: number[];
  drops: [number, DropReason][];
  credits: number;
  waiting: (() => void)[];
}

interface PubModel {
  seq: number;
  afterClose: boolean;
  controller: AbortController | undefined;
  aborted: boolean;
  outcome: { value?: number; error?: unknown } | undefined;
  promise: Promise<unknown>;
}

const ALLOWED: Record<BackpressurePolicy, DropReason[]> = {
  'drop-newest': ['full'],
  'drop-oldest': ['evicted'],
  block: ['aborted', 'closed'],
};

async function run(ops: Op[]): Promise<void> {
  const subs: SubModel[] = [];
  const byHandle = new Map<Subscription<number>, SubModel>();
  const pubs: PubModel[] = [];
  const violations: string[] = [];
  let closed = false;
  let autoRelease = false;

  const bus = createBus<number>({
    observer: {
      onDeliver: (msg, sub) => {
        const m = byHandle.get(sub as Subscription<number>)!;
        if (m.unsubscribed) violations.push(`onDeliver ${msg.payload} after unsubscribe`);
        m.delivered.push(msg.payload);
      },
      onDrop: (msg, sub, reason) => byHandle.get(sub as Subscription<number>)!.drops.push([msg.payload, reason]),
      onError: (err) => violations.push(`onError ${String(err)}`),
    },
  });

  const subscribe = (op: Extract<Op, { t: 'sub' }>): void => {
    let model!: SubModel;
    const handler =
      op.mode === 'iter'
        ? undefined
        : async (msg: BusMessage<number>, sub: Subscription<number>) => {
            if (model.unsubscribed) violations.push(`handler got ${msg.payload} after unsubscribe`);
            model.consumed.push(msg.payload);
            if (op.selfUnsubAfter > 0 && model.consumed.length === op.selfUnsubAfter) {
              sub.unsubscribe();
              model.unsubscribed = true;
            }
            if (op.mode === 'async' && !autoRelease) {
              if (model.credits > 0) model.credits--;
              else await new Promise<void>((resolve) => model.waiting.push(resolve));
            }
          };
    const sub = bus.subscribe(PATTERNS[op.pattern]!, handler, {
      bufferSize: op.bufferSize,
      backpressure: op.policy,
      predicate: op.pred ? (m) => m.payload % 3 !== 0 : undefined,
    });
    model = {
      sub,
      op,
      iterator: op.mode === 'iter' ? sub[Symbol.asyncIterator]() : undefined,
      unsubscribed: false,
      matched: [],
      delivered: [],
      consumed: [],
      drops: [],
      credits: 0,
      waiting: [],
    };
    subs.push(model);
    byHandle.set(sub, model);
  };

  const pull = (m: SubModel): Promise<boolean> =>
    m.iterator!.next().then((r) => {
      if (!r.done) m.consumed.push(r.value.payload);
      return !r.done;
    });

  for (const op of ops) {
    switch (op.t) {
      case 'sub':
        if (closed) expect(() => subscribe(op)).toThrow(expect.objectContaining({ code: 'CLOSED' }));
        else subscribe(op);
        break;
      case 'pub': {
        const seq = pubs.length;
        const subject = SUBJECTS[op.subject]!;
        if (!closed)
          for (const m of subs)
            if (!m.unsubscribed && matches(m.sub.pattern, subject) && !(m.op.pred && seq % 3 === 0)) m.matched.push(seq);
        const controller = op.abortable ? new AbortController() : undefined;
        const pub: PubModel = { seq, afterClose: closed, controller, aborted: false, outcome: undefined, promise: Promise.resolve() };
        pub.promise = bus.publish(subject, seq, { signal: controller?.signal }).then(
          (value) => (pub.outcome = { value }),
          (error: unknown) => (pub.outcome = { error }),
        );
        pubs.push(pub);
        break;
      }
      case 'abort': {
        // Among abortable publishes still waiting, so that aborts mostly hit blocked ones.
        const abortable = pubs.filter((p) => p.controller !== undefined && p.outcome === undefined);
        const p = abortable[op.i % Math.max(1, abortable.length)];
        if (p !== undefined && !p.aborted) {
          p.aborted = true;
          p.controller!.abort();
        }
        break;
      }
      case 'unsub': {
        const m = subs[op.i % Math.max(1, subs.length)];
        if (m !== undefined) {
          m.sub.unsubscribe();
          m.unsubscribed = true;
        }
        break;
      }
      case 'release': {
        const asyncSubs = subs.filter((s) => s.op.mode === 'async');
        const m = asyncSubs[op.i % Math.max(1, asyncSubs.length)];
        if (m !== undefined) {
          const next = m.waiting.shift();
          if (next !== undefined) next();
          else m.credits++;
        }
        break;
      }
      case 'pull': {
        const iterSubs = subs.filter((s) => s.op.mode === 'iter');
        const m = iterSubs[op.i % Math.max(1, iterSubs.length)];
        if (m !== undefined) void pull(m);
        break;
      }
      case 'micro':
        await Promise.resolve();
        break;
      case 'tick':
        await flush();
        break;
      case 'close':
        closed = true;
        void bus.close();
        break;
    }
  }

  // Wind down: let every handler run free, close, read every iterator to its end.
  autoRelease = true;
  for (const m of subs) for (const release of m.waiting.splice(0)) release();
  closed = true;
  const closing = bus.close();
  await Promise.all(
    subs
      .filter((m) => m.iterator !== undefined)
      .map(async (m) => {
        while (await pull(m));
      }),
  );
  await closing;
  await Promise.all(pubs.map((p) => p.promise));

  expect(violations).toEqual([]);
  let totalDrops = 0;
  for (const m of subs) {
    const label = `${m.op.mode} ${m.op.policy}/${m.op.bufferSize} on ${m.sub.pattern}`;
    // What the consumer got is what onDeliver reported, in order, each at most once.
    expect(m.consumed, label).toEqual(m.delivered);
    for (let i = 1; i < m.delivered.length; i++) expect(m.delivered[i]!, label).toBeGreaterThan(m.delivered[i - 1]!);
    // Every matched message was delivered or dropped, exactly once.
    const accounted = [...m.delivered, ...m.drops.map(([seq]) => seq)].sort((x, y) => x - y);
    expect(accounted, label).toEqual(m.matched);
    // Drops only for the reasons the policy allows (plus 'unsubscribed' once unsubscribed).
    const allowed = m.unsubscribed ? [...ALLOWED[m.op.policy], 'unsubscribed'] : ALLOWED[m.op.policy];
    for (const [seq, reason] of m.drops) {
      expect(allowed, label).toContain(reason);
      if (reason === 'aborted') expect(pubs[seq]!.aborted).toBe(true);
    }
    expect(m.sub.dropped, label).toBe(m.drops.length);
    expect(m.sub.closed).toBe(true);
    totalDrops += m.drops.length;
  }
  expect(bus.dropped).toBe(totalDrops);

  for (const p of pubs) {
    const { value, error } = p.outcome!;
    if (p.afterClose) {
      expect(isFeteError(error, 'CLOSED')).toBe(true);
      continue;
    }
    if (error !== undefined) {
      expect(p.aborted && isFeteError(error, 'ABORTED'), String(error)).toBe(true);
      continue;
    }
    // Resolved: it counts the subscriptions that accepted it. Accepted ones were delivered,
    // evicted, or discarded by an unsubscribe (which also releases ones that never accepted).
    let sure = 0;
    let maybe = 0;
    for (const m of subs) {
      if (m.delivered.includes(p.seq) || m.drops.some(([s, r]) => s === p.seq && r === 'evicted')) sure++;
      else if (m.drops.some(([s, r]) => s === p.seq && r === 'unsubscribed')) maybe++;
    }
    expect(value).toBeGreaterThanOrEqual(sure);
    expect(value).toBeLessThanOrEqual(sure + maybe);
  }
}

describe('bus under random interleavings', () => {
  it('delivers each matched message at most once, in order, never after unsubscribe, and accounts for every drop', async () => {
    await fc.assert(
      fc.asyncProperty(opsArb, (ops) => run(ops)),
      { numRuns: 300 },
    );
  });

  it('delivers exactly once, in order, when nothing is unsubscribed, aborted or dropped by policy', async () => {
    // Unbounded-enough buffers with 'block' and no aborts or unsubscribes: nothing may be lost.
    const noLoss = opArb.filter((op) => op.t !== 'unsub' && op.t !== 'abort');
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          noLoss.map((op) => (op.t === 'sub' ? { ...op, policy: 'block' as const, selfUnsubAfter: 0 } : op)),
          { minLength: 1, maxLength: 60, size: 'max' },
        ),
        async (ops) => {
          // Publishes are not awaited above, so a blocked one may wait on an iterator nobody pulls
          // until the wind-down; close releases such waits (reason 'closed'), which this property
          // excludes by draining first. Run the ops, then let every consumer run before closing.
          const bus = createBus<number>();
          const got = new Map<Subscription<number>, number[]>();
          const expected = new Map<Subscription<number>, number[]>();
          const iterators: { sub: Subscription<number>; it: AsyncIterator<BusMessage<number>, undefined>; requested: number }[] = [];
          const publishes: Promise<number>[] = [];
          let seq = 0;
          const pull = (entry: (typeof iterators)[number]): Promise<void> => {
            entry.requested++;
            return entry.it.next().then((r) => {
              if (!r.done) got.get(entry.sub)!.push(r.value.payload);
            });
          };
          for (const op of ops) {
            if (op.t === 'sub') {
              const list: number[] = [];
              const sub =
                op.mode === 'iter'
                  ? bus.subscribe(PATTERNS[op.pattern]!, { bufferSize: op.bufferSize, backpressure: 'block' })
                  : bus.subscribe(
                      PATTERNS[op.pattern]!,
                      async (m) => {
                        list.push(m.payload);
                        if (op.mode === 'async') await Promise.resolve();
                      },
                      { bufferSize: op.bufferSize, backpressure: 'block' },
                    );
              got.set(sub, list);
              expected.set(sub, []);
              if (op.mode === 'iter') iterators.push({ sub, it: sub[Symbol.asyncIterator](), requested: 0 });
            } else if (op.t === 'pub') {
              const subject = SUBJECTS[op.subject]!;
              for (const [sub, list] of expected) if (matches(sub.pattern, subject)) list.push(seq);
              publishes.push(bus.publish(subject, seq++));
            } else if (op.t === 'pull') {
              const entry = iterators[op.i % Math.max(1, iterators.length)];
              if (entry !== undefined) void pull(entry);
            } else if (op.t === 'micro') await Promise.resolve();
            else if (op.t === 'tick') await flush();
          }
          // Pull exactly what is still owed (pulls already pending count), so every blocked publish
          // is admitted and nothing is left for close to release.
          const reading: Promise<void>[] = [];
          for (const entry of iterators)
            for (let n = expected.get(entry.sub)!.length - entry.requested; n > 0; n--) reading.push(pull(entry));
          await Promise.all(publishes);
          await Promise.all(reading);
          await bus.close();
          expect(bus.dropped).toBe(0);
          for (const [sub, list] of expected) expect(got.get(sub), sub.pattern).toEqual(list);
        },
      ),
      { numRuns: 200 },
    );
  });
});
