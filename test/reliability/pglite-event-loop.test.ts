// On PGlite every query resolves without real I/O (WASM, synchronous file access), so a dispatcher
// that goes claim -> handler -> ctx.tx -> complete -> claim on promises alone never gives the event
// loop a turn: timers (heartbeats, attempt timeouts), sockets and HTTP requests of the same process
// wait until the whole backlog is drained. Found by the crash test, whose progress timer stayed
// silent for the whole drain. The checks are about order, not time: a callback queued on the
// event loop when the worker starts must run before the backlog is done.
import { afterEach, describe, expect, it } from 'vitest';
import { createFete, type Fete } from '../../server/index.js';
import { topics } from './support.js';

const EVENTS = 2_000;
let fete: Fete<typeof topics> | undefined;
afterEach(async () => {
  await fete?.stop();
  fete = undefined;
});

async function drainWhileQueued(useTx: boolean): Promise<{ atImmediate: number; atTimeout: number }> {
  fete = await createFete({ topics, store: 'memory' });
  await fete.transaction((tx) => tx.query('CREATE TABLE ledger (event_id uuid)'));
  let handled = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  fete.on(topics.work, 'ledger', async (_p, ctx) => {
    if (useTx) await ctx.tx.query('INSERT INTO ledger VALUES ($1)', [ctx.envelope.id]);
    if (++handled === EVENTS) done();
  });
  for (let i = 0; i < EVENTS; i += 500)
    await fete.emitMany(Array.from({ length: 500 }, (_, k) => ({ topic: topics.work, payload: { n: String(i + k) } })));
  const seen = { atImmediate: -1, atTimeout: -1 };
  await fete.start();
  setImmediate(() => (seen.atImmediate = handled));
  setTimeout(() => (seen.atTimeout = handled), 0);
  await all;
  await new Promise((r) => setTimeout(r, 1));
  return seen;
}

describe('PGlite: draining a backlog leaves the event loop free', () => {
  it('with ctx.tx handlers, a setImmediate and a setTimeout queued at start run before the backlog is drained', { timeout: 120_000 }, async () => {
    const seen = await drainWhileQueued(true);
    expect(seen.atImmediate).toBeLessThan(EVENTS);
    expect(seen.atTimeout).toBeLessThan(EVENTS);
  });

  it('with handlers that do not touch the store, a setImmediate and a setTimeout queued at start run before the backlog is drained', { timeout: 120_000 }, async () => {
    const seen = await drainWhileQueued(false);
    expect(seen.atImmediate).toBeLessThan(EVENTS);
    expect(seen.atTimeout).toBeLessThan(EVENTS);
  });
});
