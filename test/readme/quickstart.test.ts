// The README's quickstart is examples/quickstart/, and this test is what keeps it honest: the
// files compile as a project of their own, and run end to end as written: the server with its
// listener writing a table in fete's store, a Node client (fake-indexeddb) that places an order and
// sees it paid, the HTTP emit and SSE stream the README documents, a wrong token that is reported,
// and a clean stop().
import 'fake-indexeddb/auto';
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FeteError } from '../../shared/index.js';
import { startServer } from '../../examples/quickstart/server.js';
import { startShop } from '../../examples/quickstart/browser.js';
import { emitOverHttp, readStream } from '../../examples/quickstart/http-client.js';
import { waitFor } from '../support/wait.js';

const repo = resolve(import.meta.dirname, '../..');

describe('examples/quickstart', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  let base: string;
  beforeAll(async () => {
    server = await startServer(0, 'memory');
    base = `http://127.0.0.1:${(server.http.address() as AddressInfo).port}`;
  });
  afterAll(() => server?.stop());

  it('compiles as a TypeScript project of its own (examples/tsconfig.json), on TypeScript 5.9 and 7', () => {
    // Throws with the compiler's output (failing the test) on any error.
    // On TypeScript 5.9 and 7 (the native compiler), as an app might use either.
    for (const tsc of ['node_modules/typescript/bin/tsc', 'node_modules/typescript7/bin/tsc'])
      execFileSync(resolve(repo, tsc), ['-p', 'examples/tsconfig.json'], { cwd: repo, encoding: 'utf8', stdio: 'pipe' });
  }, 120_000);

  it("a browser order is charged once in a table of fete's store and comes back as paid", async () => {
    const seen: Array<[string, string]> = [];
    const shop = startShop(base, 'token-alice', (orderId, status) => void seen.push([orderId, status]));
    try {
      await waitFor(() => shop.client.status.connected, { what: 'connected' });
      await shop.placeOrder('o-17', 'tea');
      await waitFor(() => seen.length > 0, { what: 'the paid status' });
      expect(seen).toEqual([['o-17', 'paid']]);
      const rows = await server.fete.transaction((tx) => tx.query<{ order_id: string }>('SELECT order_id FROM charges'));
      expect(rows.rows).toEqual([{ order_id: 'o-17' }]);
      expect(await server.fete.deadLetters()).toEqual([]);
    } finally {
      await shop.client.close();
    }
  });

  it('POST /fete/emit takes the documented body, and GET /fete/stream sends the documented frames', async () => {
    const first = await emitOverHttp(base, 'token-alice', 'o-18');
    expect(first.status).toBe(200);
    expect(first.body.results).toEqual([{ id: expect.any(String), status: 'accepted', seq: expect.any(Number) }]);
    // The idempotency key makes a repeat a duplicate, not a second order.
    const again = await emitOverHttp(base, 'token-alice', 'o-18');
    expect(again.body.results[0]).toMatchObject({ status: 'duplicate', seq: first.body.results[0]!.seq });
    expect((await emitOverHttp(base, 'wrong-token', 'o-19')).status).toBe(401);
    // Only the presentation topic leaves the server: orderCreated is a domain fact (not exposed).
    const events = await readStream(base, 'token-alice', 'orders.o-18.>', 1);
    expect(events.map((e) => [e.topic, e.payload])).toEqual([['orders.{orderId}.status', { orderId: 'o-18', status: 'paid' }]]);
  });

  it('a client with a wrong token hears an UNAUTHORIZED error event and a status saying it was refused', async () => {
    const errors: FeteError[] = [];
    const shop = startShop(base, 'wrong-token', () => undefined);
    shop.client.on('error', (e) => void errors.push(e));
    try {
      await waitFor(() => errors.length > 0, { what: 'the error event' });
      expect(errors[0]!.code).toBe('UNAUTHORIZED');
      expect(shop.client.status).toMatchObject({ connected: false, refused: expect.objectContaining({ code: 'UNAUTHORIZED' }) });
    } finally {
      await shop.client.close();
    }
  });
});
