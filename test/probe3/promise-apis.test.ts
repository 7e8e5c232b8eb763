// probe3: fete's methods that return a Promise report every failure through it. Before,
// `fete.latest('a..b')`, `fete.latest(p, { tenant: 5 })`, and `latest`, `presence`, `transaction`,
// `waitIdle` and `start` on a stopped fete threw where they were called, so `fete.latest(p).catch(f)`
// threw past `f`; `emitMany(notAnArray)` threw a TypeError.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type Fete, createFete } from '../../server/index.js';
import { defineCommand, defineTopic, defineTopics, isFeteError } from '../../shared/index.js';

const topics = defineTopics({
  price: defineTopic('prices.{symbol}', { kind: 'presentation', delivery: 'latest', presence: true, schema: z.object({ symbol: z.string(), price: z.number() }) }),
});
const ping = defineCommand('pings.send', { input: z.object({}), output: z.null() });

/** Calls `f` and returns what its promise rejected with; fails when it throws synchronously. */
function rejection(name: string, f: () => unknown): Promise<unknown> {
  let result: unknown;
  try {
    result = f();
  } catch (err) {
    throw new Error(`${name} threw synchronously: ${String(err)}`);
  }
  expect(result, name).toBeInstanceOf(Promise);
  return (result as Promise<unknown>).then(
    () => undefined,
    (err: unknown) => err,
  );
}

/** Every method of Fete that returns a Promise, called with arguments it might get. */
function promiseCalls(fete: Fete<typeof topics, 'inline'>): Array<[string, () => unknown]> {
  return [
    ['latest', () => fete.latest('prices.*')],
    ['presence', () => fete.presence('prices.x')],
    ['emit', () => fete.emit(topics.price, { symbol: 'x', price: 1 })],
    ['emitMany', () => fete.emitMany([{ topic: topics.price, payload: { symbol: 'x', price: 1 } }])],
    ['transaction', () => fete.transaction(async () => 1)],
    ['execute', () => fete.execute(ping, {})],
    ['query', () => fete.query(ping as never, {} as never)],
    ['commandResult', () => fete.commandResult('0193b0a0-0000-7000-8000-000000000000')],
    ['clearLatest', () => fete.clearLatest(topics.price, { symbol: 'x' })],
    ['off', () => fete.off(topics.price, 'x')],
    ['skip', () => fete.skip(1)],
    ['waitIdle', () => fete.waitIdle()],
    ['start', () => fete.start()],
    ['stats', () => fete.stats()],
    ['prune', () => fete.prune()],
    ['checkWrite', () => fete.checkWrite()],
    ['deadLetters', () => fete.deadLetters()],
    ['retry', () => fete.retry(1)],
  ];
}

describe('promise-returning methods', () => {
  it('reject bad arguments through the promise with a typed error', async () => {
    const fete = await createFete({ topics, security: { auth: 'anonymous' }, dispatch: 'inline' });
    try {
      for (const [name, f] of [
        ['latest: bad pattern', () => fete.latest('prices..x')],
        ['latest: bad tenant', () => fete.latest('prices.*', { tenant: 5 as never })],
        ['presence: bad pattern', () => fete.presence('prices..x')],
        ['emitMany: not an array', () => fete.emitMany(5 as never)],
      ] as const) {
        const err = await rejection(name, f);
        expect(isFeteError(err), `${name}: ${String(err)}`).toBe(true);
      }
    } finally {
      await fete.stop();
    }
  });

  it('on a stopped fete, every one rejects CLOSED instead of throwing where it is called', async () => {
    const fete = await createFete({ topics, security: { auth: 'anonymous' }, dispatch: 'inline' });
    await fete.stop();
    for (const [name, f] of promiseCalls(fete)) {
      const err = await rejection(name, f);
      expect(isFeteError(err, 'CLOSED'), `${name}: ${String(err)}`).toBe(true);
    }
  });
});
