// The README's commands example (examples/quickstart/commands.ts), run as written: the owner
// writes a row and emits in one transaction, a retry with the same id answers the first result
// and writes nothing, a query reads it back, a declared reason reaches the caller typed, and
// calls are closed to browsers unless `authorize.command` allows them.
import 'fake-indexeddb/auto';
import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createFete, type Fete, type SecurityOptions } from '../../server/index.js';
import { cartCommands, cartTopics, checkout, serveCarts } from '../../examples/quickstart/commands.js';
import { closeHttp, listen } from '../support/http-server.js';

const opened: Array<{ fete: Fete<typeof cartTopics>; http: ReturnType<typeof createServer> }> = [];
afterEach(async () => {
  for (const o of opened.splice(0)) {
    await o.fete.stop();
    await closeHttp(o.http);
  }
});

async function serve(authorize?: SecurityOptions<{ id: string }>['authorize']) {
  const fete = await createFete({
    topics: cartTopics,
    store: 'memory',
    logger: false,
    security: { auth: ({ credentials }) => (credentials.token === 't' ? { id: 'u' } : undefined), ...(authorize ? { authorize } : {}) },
  });
  await serveCarts(fete);
  const http = createServer();
  fete.attach(http);
  const url = await listen(http);
  opened.push({ fete, http });
  return { fete, url };
}

describe('examples/quickstart/commands.ts', () => {
  it('runs a checkout once per id, with its row and its event committed together, and reads it back', async () => {
    const { fete, url } = await serve({ command: () => true });
    const events: unknown[] = [];
    fete.on(cartTopics.checkedOut, 'collect', (payload) => void events.push(payload), { durable: false });
    expect(await checkout(url, 't', 'c1', [250, 100])).toEqual({ first: { total: 350 }, again: { total: 350 }, stored: 350 });
    expect(await fete.query(cartCommands.total, { cartId: 'c1' })).toBe(350);
    expect(events).toEqual([{ cartId: 'c1', total: 350 }]); // once, though called twice
  });

  it('answers a declared reason to the caller, and rolls back the writes', async () => {
    const { fete, url } = await serve({ command: () => true });
    expect(await checkout(url, 't', 'c2', [])).toEqual({ refused: 'EMPTY_CART' });
    expect(await fete.query(cartCommands.total, { cartId: 'c2' })).toBeNull();
  });

  it('is closed to browsers unless authorize.command allows the call', async () => {
    const { url } = await serve();
    await expect(checkout(url, 't', 'c3', [1])).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });
});
