// probe3: a listener's `orderBy` ordered only server emits: client emits (socket, HTTP) pass no
// emit options, and the append then planned no ordering keys at all, so their deliveries of one key
// ran at once (3 at a time with concurrency 4).
// And a listener's ordering key often comes from the payload (`orderBy: (p) => p.customer`),
// so from a browser. The store keeps it as text, which refuses a NUL: before, such a payload made
// the append fail STORE_UNAVAILABLE (retryable: the browser re-sent it forever, and the log said the
// store was down). A lone surrogate was stored as U+FFFD, so two customers shared one order.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEnvelope, encodeEnvelope } from '../../shared/index.js';
import { orderKeyOf } from '../../server/dispatch/delivery-plan.js';
import { type SecureServer, bearer, postEmit, sharePGlite, startSecureServer } from '../security/support/secure-server.js';
import { RawClient, until } from '../realtime/support.js';

sharePGlite();

// Types end to end: `orderBy` gets the topic's payload type (it was `unknown`). Compiled, never run.
export function orderByIsTyped(fete: SecureServer['fete']): void {
  fete.on(fete.topics.order, 'typed', () => undefined, { orderBy: (p, e) => `${p.orderId}:${e.payload.n}` });
  // @ts-expect-error the payload has no `customer`
  fete.on(fete.topics.order, 'untyped', () => undefined, { orderBy: (p) => p.customer });
}

describe("a listener's orderBy", () => {
  it('runs the deliveries of one key one at a time for client emits too, over HTTP and Socket.IO', async () => {
    const s = await startSecureServer({ auth: () => ({ id: 'ann', tenant: undefined, secret: '' }), authorize: { emit: () => true } });
    const c = new RawClient(s.url, { token: 'ann' });
    try {
      let running = 0;
      let most = 0;
      const done: number[] = [];
      s.fete.on(
        s.fete.topics.order,
        'one-at-a-time',
        async (p) => {
          most = Math.max(most, ++running);
          await new Promise((r) => setTimeout(r, 20)); // room for another delivery to start, if it may
          running--;
          done.push(p.n);
        },
        { orderBy: (p) => p.orderId, concurrency: 4 },
      );
      await s.fete.start();
      const res = await postEmit(s.api, [1, 2, 3].map((n) => ({ topic: s.fete.topics.order.name, payload: { orderId: 'o', n } })), bearer('ann'));
      expect(res.status).toBe(200);
      await c.connected();
      await c.emit([4, 5, 6].map((n) => encodeEnvelope(createEnvelope(s.fete.topics.order, { orderId: 'o', n }))));
      await until(() => done.length === 6, 'six deliveries');
      expect(most).toBe(1);
      expect(done).toEqual([1, 2, 3, 4, 5, 6]); // in seq order
    } finally {
      c.close();
      await s.close();
    }
  });
});

describe('ordering keys taken from a payload', () => {
  it('are stored as given when storable, and distinct keys stay distinct otherwise', () => {
    expect(orderKeyOf('customer-1', 'test')).toBe('customer-1');
    expect(orderKeyOf('emoji \ud83d\ude00', 'test')).toBe('emoji \ud83d\ude00');
    const keys = ['a\u0000', 'a\ud800', 'a\udc00', 'a'].map((k) => orderKeyOf(k, 'test')!);
    expect(new Set(keys).size).toBe(4);
    for (const k of keys) expect(k).not.toMatch(/\u0000|[\ud800-\udfff]/u);
  });

  it('with a NUL from a client emit, the event is accepted and its delivery runs', async () => {
    const s = await startSecureServer({ auth: () => ({ id: 'ann', tenant: undefined, secret: '' }), authorize: { emit: () => true } });
    try {
      const seen: string[] = [];
      s.fete.on(s.fete.topics.order, 'by-order', (p) => void seen.push(p.orderId), { orderBy: (p) => `${p.orderId}\u0000${p.n}` });
      await s.fete.start();
      const res = await postEmit(s.api, { topic: s.fete.topics.order.name, payload: { orderId: 'o1', n: 1 } }, bearer('ann'));
      expect(res.status).toBe(200);
      await until(() => seen.length === 1, 'the delivery ran');
      expect(seen).toEqual(['o1']);
      // The emit's own key (server code) takes the same path.
      const r = await s.fete.emit(s.fete.topics.order, { orderId: 'o2', n: 2 }, { orderKey: 'k\u0000\ud800' });
      expect(r.duplicate).toBe(false);
      await until(() => seen.length === 2, 'the second delivery ran');
    } finally {
      await s.close();
    }
  });
});
