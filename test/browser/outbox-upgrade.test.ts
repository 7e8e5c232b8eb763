// The outbox database's upgrade in real Chromium: entries queued by the previous layout (one value
// per entry) are moved into chunks on open and reach the server first, in order, exactly once.
import { describe, expect, it } from 'vitest';
import { createEnvelope, encodeEnvelope } from '../../shared/index.js';
import { browserSkipReason } from '../support/browser.js';
import { topics } from './support/catalogue.js';
import { browserWithServer } from './support/fete-server.js';
import { openPage, run, waitFor } from './support/pages.js';

const skip = browserSkipReason();
if (skip) process.stdout.write(`browser tests skipped: ${skip}\n`);

describe.skipIf(skip)('outbox database upgrade', () => {
  const fixture = browserWithServer({ store: 'memory' });

  it('entries queued by the version 1 layout drain after the upgrade, first and in order, then new emits', async () => {
    const old = Array.from({ length: 30 }, (_, n) => {
      const envelope = createEnvelope(topics.mark, { run: 'upgrade', n, tab: 'v1' });
      return { id: envelope.id, topic: topics.mark.name, e: encodeEnvelope(envelope), tab: 'a-tab-of-v1' };
    });
    const context = await fixture.browser.newContext();
    try {
      const { page, errors } = await openPage(context, fixture.server.url);
      await run(page, (h, records) => h.seedVersion1Outbox(records), old);
      await run(page, (h) => h.open('upgraded'));
      const fresh = await run(page, (h) => h.emitMarks('upgrade', 'v2', 30, 10));
      await waitFor(page, (h) => h.status().connected && h.status().pending === 0);
      await run(page, (h) => h.delivered());
      const { events } = await fixture.server.fete.log.read(0, { pattern: 'marks.upgrade', limit: 1000 });
      expect(events.map((e) => e.id)).toEqual([...old.map((r) => r.id), ...fresh]);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 180_000);
});
