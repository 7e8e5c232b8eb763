// The receipt of a latest value emitted from a page in real Chromium (IndexedDB outbox, Socket.IO
// ack): it resolves with the version the value got for its subject and no seq (the value is in no
// log), and a resend of the same id resolves as a duplicate with the version that id got.
import { describe, expect, it } from 'vitest';
import { browserSkipReason } from '../support/browser.js';
import { uuidv7 } from '../../shared/index.js';
import { browserWithServer } from './support/fete-server.js';
import { openPage, run, waitFor } from './support/pages.js';

const skip = browserSkipReason();
if (skip) process.stdout.write(`browser tests skipped: ${skip}\n`);

describe.skipIf(skip)('the receipt of a latest value in the browser', () => {
  const fixture = browserWithServer({ store: 'memory' });

  it('resolves with the version of each value and no seq; a resend of an id resolves as a duplicate with the version it got', async () => {
    const context = await fixture.browser.newContext();
    try {
      const { page, errors } = await openPage(context, fixture.server.url);
      await run(page, (h) => h.open('quotes'));
      await waitFor(page, (h) => h.status().connected && h.status().leader);
      const first = uuidv7();
      const answers = await run(page, (h, id) => h.emitQuotes('ACME', [1, 2], [id]), first);
      expect(answers).toEqual([
        { id: first, duplicate: false, version: 1 },
        { id: expect.any(String), duplicate: false, version: 2 },
      ]);
      // The app emits the first value again with its id (as after a lost answer): nothing is stored.
      expect(await run(page, (h, id) => h.emitQuotes('ACME', [1], [id]), first)).toEqual([{ id: first, duplicate: true, version: 1 }]);
      expect(await fixture.server.fete.latest('quotes.ACME')).toMatchObject([{ version: 2, payload: { price: 2 } }]);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
