// Issue 9 item 5, for every dispatch (durable on PGlite and PostgreSQL, inline): whatever a
// listener throws, rejects with or returns, its attempt ends as a recorded failure (retried with
// backoff, then dead-lettered with a description of what was thrown) and nothing stays `running`.
// Called by test/store/store-suite.ts (durable) and test/server/inline-hostile-throws.test.ts.
import { describe, expect, it } from 'vitest';
import type { Fete } from '../../server/index.js';
import type { ListenerOptions } from '../../server/options.js';
import type { DeadLetter, DispatchMode } from '../../server/types.js';
import { type Topics, topics } from '../store/suite/harness.js';
import { HOSTILE_VALUES } from '../support/hostile-values.js';
import { waitFor } from '../support/wait.js';

/** A started fete whose durable listeners are not rescued by lease expiry: only a recorded
 * outcome can end an attempt (rescueIntervalMs 0), so a failure that is not recorded shows. */
export type OpenFete = () => Promise<Fete<Topics, DispatchMode>>;

const trap = (): never => {
  throw new Error('trap');
};

async function deadLetterOf(fete: Fete<Topics>, name: string): Promise<DeadLetter> {
  return waitFor(
    async () => (await fete.deadLetters()).find((d) => d.listener.name === name),
    { what: `the dead letter of ${name}` },
  );
}

async function nothingRunning(fete: Fete<Topics>): Promise<void> {
  const stats = await fete.stats();
  for (const l of stats.listeners) expect({ name: l.name, running: l.running, pending: l.pending }).toEqual({ name: l.name, running: 0, pending: 0 });
}

/** Registers `handler`, emits one event, and waits for its dead letter. */
async function deadLetterFor(
  open: OpenFete,
  handler: (attempt: number) => unknown,
  options: ListenerOptions = {},
): Promise<{ dl: DeadLetter; attempts: number[]; fete: Fete<Topics> }> {
  const fete = await open();
  const attempts: number[] = [];
  fete.on(topics.orderPlaced, 'hostile', (_p, ctx) => {
    attempts.push(ctx.attempt);
    return handler(ctx.attempt);
  }, { retries: 0, backoff: () => 0, ...options });
  await fete.start();
  await fete.emit(topics.orderPlaced, { orderId: 'o1', total: 1 });
  const dl = await deadLetterOf(fete, 'hostile');
  await nothingRunning(fete);
  return { dl, attempts, fete };
}

export function hostileThrowTests(open: OpenFete): void {
  describe('hostile thrown values', () => {
    for (const v of HOSTILE_VALUES) {
      it(`a listener that throws ${v.name} fails, is retried, then dead-lettered with its description`, async () => {
        // Attempt 1 throws synchronously, attempt 2 rejects: both ways out of a handler.
        const { dl, attempts } = await deadLetterFor(
          open,
          (attempt) => {
            if (attempt === 1) throw v.make();
            return Promise.reject(v.make());
          },
          { retries: 1 },
        );
        expect(attempts).toEqual([1, 2]);
        expect(dl.attempts).toBe(2);
        expect(dl.lastError).toMatch(v.described);
        expect(dl.lastError).not.toMatch(/attempts used up|lease expired/);
      });
    }
  });

  describe('hostile results', () => {
    const returned: Array<[string, () => unknown, RegExp]> = [
      ['an object whose `then` getter throws', () => ({ get then() { throw Symbol('then-getter'); } }), /thrown symbol: Symbol\(then-getter\)/],
      ['a Proxy that throws on every access', () => HOSTILE_VALUES.find((v) => v.name.startsWith('a Proxy'))!.make(), /Error: trap/],
      ['a promise whose own `then` throws', () => Object.assign(Promise.resolve(), { then: () => { throw new Error('own then'); } }), /own then/],
      [
        'a promise whose `constructor` getter throws',
        () => Object.defineProperty(Promise.resolve(), 'constructor', { get: () => { throw new Error('constructor getter'); } }),
        /constructor getter/,
      ],
      ['a thenable that rejects with a Proxy', () => ({ then: (_ok: unknown, fail: (e: unknown) => void) => fail(HOSTILE_VALUES.find((v) => v.name.startsWith('a Proxy'))!.make()) }), /thrown object \(unreadable\)/],
    ];
    for (const [name, make, described] of returned) {
      it(`a listener that returns ${name} fails and is dead-lettered with what was thrown`, async () => {
        const { dl, attempts } = await deadLetterFor(open, make);
        expect(attempts).toEqual([1]);
        expect(dl.lastError).toMatch(described);
      });
    }

    it('a listener that never settles is timed out, retried, then dead-lettered with TIMEOUT', async () => {
      const { dl, attempts } = await deadLetterFor(open, () => new Promise(() => undefined), { retries: 1, timeoutMs: 100 });
      expect(attempts).toEqual([1, 2]);
      expect(dl.lastError).toMatch(/attempt 2 timed out after 100 ms/);
    });

    it('a thenable that never calls back is timed out and dead-lettered', async () => {
      const { dl } = await deadLetterFor(open, () => ({ then: () => undefined }), { timeoutMs: 100 });
      expect(dl.lastError).toMatch(/timed out after 100 ms/);
    });
  });

  describe('hostile backoff', () => {
    const backoffs: Array<[string, (attempt: number) => number]> = [
      ['throws', trap],
      ['returns NaN', () => Number.NaN],
      ['returns Infinity', () => Number.POSITIVE_INFINITY],
      ['returns a value that is not a number', () => ({ valueOf: trap }) as unknown as number],
    ];
    for (const [name, backoff] of backoffs) {
      it(`a backoff function that ${name} still gets the failure recorded and retried`, async () => {
        const { dl, attempts } = await deadLetterFor(open, () => { throw new Error('handler failed'); }, { retries: 1, backoff });
        expect(attempts).toEqual([1, 2]);
        expect(dl.lastError).toMatch(/handler failed/);
      });
    }
  });
}
