// Property: whatever the interleaving of emits, dropped connections, offline periods, lost acks,
// failed batches and items, and reloads (close + a new client on the same database), the server
// ends with every emitted id exactly once, in emit order.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Client } from '../../client/index.js';
import { uuidv7 } from '../../shared/index.js';
import { IDBFactory, fakeServer, settle, testClient, topics, until, type Topics } from './support/helpers.js';

type Step =
  | { t: 'emit'; n: number }
  | { t: 'drop' | 'offline' | 'online' | 'loseAck' | 'failBatch' | 'reload' | 'tick' }
  | { t: 'failItem'; index: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 6 }).map((n) => ({ t: 'emit' as const, n })) },
  { weight: 3, arbitrary: fc.constantFrom('drop', 'offline', 'online', 'loseAck', 'failBatch', 'reload', 'tick').map((t) => ({ t })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 4 }).map((index) => ({ t: 'failItem' as const, index })) },
);

describe('outbox interleavings', () => {
  it('the server ends with each emitted id exactly once, in emit order (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), async (steps) => {
        const server = fakeServer();
        const db = { indexedDB: new IDBFactory(), name: `db-${uuidv7()}` };
        let client: Client<Topics> = testClient(server, db);
        const emitted: string[] = [];
        let k = 0;
        try {
          for (const s of steps) {
            switch (s.t) {
              case 'emit': {
                // Concurrent emits: one group commit, ids in call order.
                const receipts = await Promise.all(Array.from({ length: s.n }, () => client.emit(topics.note, { n: k++, text: '' })));
                emitted.push(...receipts.map((r) => r.id));
                break;
              }
              case 'drop':
                server.dropAll();
                break;
              case 'offline':
                server.setAccepting(false);
                server.dropAll();
                break;
              case 'online':
                server.setAccepting(true);
                break;
              case 'loseAck':
                server.loseNextAck();
                break;
              case 'failBatch':
                server.failNextBatch({ code: 'STORE_UNAVAILABLE', message: 'busy' });
                break;
              case 'failItem':
                server.failNextItem(s.index, { code: 'TIMEOUT', message: 'slow' });
                break;
              case 'reload':
                await client.close();
                client = testClient(server, db);
                break;
              case 'tick':
                await settle(2);
                break;
            }
            await settle(1);
          }
          server.setAccepting(true);
          const last = client;
          await until(() => server.ids.length >= emitted.length && last.status.pending === 0, 'drained');
          expect(server.ids).toEqual(emitted);
        } finally {
          await client.close();
        }
      }),
      { numRuns: 30 },
    );
  });
});
