// Stopping a fete whose NATS is gone: the bus gives up draining after a bound and fete.stop()
// completes (nothing waits for a reconnect that may never come).
import { describe, expect, it } from 'vitest';
import { createFete } from '../../server/index.js';
import { topics } from '../realtime/topics.js';
import { PrivateNats, canRunPrivateNats, natsAvailability } from './nats.js';

const avail = await natsAvailability();
if (avail.url && !canRunPrivateNats()) {
  if (process.env.CI === 'true') throw new Error('nats-server is not installed (FETE_NATS_SERVER), and CI=true');
  avail.skipReason = 'nats-server is not installed (set FETE_NATS_SERVER)';
}
if (avail.skipReason) console.log(`skipping the bus shutdown test: ${avail.skipReason}`);

describe.skipIf(avail.skipReason !== undefined)('stopping with the bus', () => {
  it('fete.stop() completes while NATS is down, and an emit during the outage still commits', async () => {
    const nats = await PrivateNats.start();
    const fete = await createFete({ topics, store: 'memory', roles: ['worker'], bus: { nats: nats.url } });
    try {
      await fete.start();
      await nats.stop();
      // The log is the system of record: the commit does not wait for NATS.
      const r = await fete.emit(topics.tick, { n: 1 });
      expect(r.seq).toBeGreaterThan(0);
    } finally {
      await fete.stop();
      await nats.stop();
    }
  }, 60_000);
});
