// The live channel of a node with the NATS bus (server/bus/fallback-live-channel.ts): the LiveChannel
// contract on its PostgreSQL fallback (NATS never reached), and the switch between NATS and the
// fallback with a NATS of the test's own: a message goes out on exactly one transport, reaches the
// other process once whichever transport each process is on, and every switch is reported through
// onLost (receivers re-read latest values and presence).
import pg from 'pg';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { createFallbackLiveChannel, type FallbackLiveChannel } from '../../server/bus/fallback-live-channel.js';
import type { LiveChannel, LiveMessage } from '../../server/bus/live-channel.js';
import { connectNats } from '../../server/bus/nats-connect.js';
import { createNatsLiveChannel } from '../../server/bus/nats-live-channel.js';
import { createPostgresLiveChannel, liveChannelName } from '../../server/bus/postgres-live-channel.js';
import { openDriver } from '../../server/store/open-store.js';
import { tablesFor } from '../../server/store/tables.js';
import { describeLiveChannel } from '../bus/live-channel-suite.js';
import { until } from '../realtime/support.js';
import { freshSchema, postgresAvailability } from '../support/postgres.js';
import { PrivateNats, privateNatsSkipReason } from './nats.js';

const pgAvail = await postgresAvailability();
const natsSkip = await privateNatsSkipReason();
if (pgAvail.skipReason) console.log(`skipping the fallback live channel tests: ${pgAvail.skipReason}`);
else if (natsSkip) console.log(`skipping the NATS switch of the fallback live channel: ${natsSkip}`);

const drivers: Array<{ close(): Promise<void> }> = [];
afterAll(async () => {
  for (const d of drivers.splice(0)) await d.close();
});

async function pgChannel(tables: ReturnType<typeof tablesFor>): Promise<LiveChannel> {
  const { driver } = await openDriver(pgAvail.url!);
  drivers.push(driver);
  return createPostgresLiveChannel({ driver, tables });
}

if (pgAvail.url) {
  const tables = tablesFor(freshSchema('flc'));
  describeLiveChannel('fallback channel on PostgreSQL, NATS never reached', {
    crossProcess: true,
    open: async () => createFallbackLiveChannel(await pgChannel(tables)),
    async loseConnection() {
      const pool = new pg.Pool({ connectionString: pgAvail.url! });
      try {
        await pool.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1', [`LISTEN "${liveChannelName(tables)}"`]);
      } finally {
        await pool.end();
      }
    },
  });
}

describe.skipIf(pgAvail.skipReason !== undefined || natsSkip !== undefined)('the fallback live channel switching between NATS and PostgreSQL', () => {
  const conns: NatsConnection[] = [];
  const channels: FallbackLiveChannel[] = [];
  let nats: PrivateNats;
  afterAll(async () => {
    for (const c of channels) await c.close();
    for (const nc of conns) await nc.close();
    await nats?.stop();
  });

  it('sends each message on one transport only, reaches the other process once whichever transport each is on, and reports every switch through onLost', async () => {
    nats = await PrivateNats.start();
    const tables = tablesFor(freshSchema('flcs'));
    const open = async () => {
      const ch = createFallbackLiveChannel(await pgChannel(tables));
      const nc = await connectNats(nats.url, 'test');
      conns.push(nc);
      channels.push(ch);
      return { ch, nats: createNatsLiveChannel(nc, { root: 'fete.flcs' }) };
    };
    const a = await open();
    const b = await open();
    const lostA: number[] = [];
    a.ch.onLost(() => void lostA.push(1));
    const atA: LiveMessage[] = [];
    const atB: LiveMessage[] = [];
    a.ch.on('volatile', (m) => void atA.push(m));
    b.ch.on('volatile', (m) => void atB.push(m));
    // Notifications on the PostgreSQL channel, as a third listener sees them.
    const listener = new pg.Client({ connectionString: pgAvail.url! });
    await listener.connect();
    let notified = 0;
    listener.on('notification', () => void notified++);
    await listener.query(`LISTEN "${liveChannelName(tables)}"`);
    const message = (n: number): LiveMessage => ({ kind: 'volatile', tenant: 't', subject: 'rooms.r.cursor', data: { n } });
    try {
      // Both on the fallback.
      await a.ch.publish(message(1));
      await until(() => atB.length === 1, 'over PostgreSQL');
      expect(a.ch.transport).toBe('postgres');
      // a on NATS, b still on the fallback: a still hears b, which publishes on PostgreSQL.
      a.ch.toNats(a.nats);
      expect(lostA).toHaveLength(1);
      expect(a.ch.transport).toBe('nats');
      await b.ch.publish(message(2));
      await until(() => atA.some((m) => (m.data as { n: number }).n === 2), "b's message at a");
      // Both on NATS: nothing more on PostgreSQL.
      b.ch.toNats(b.nats);
      await Promise.all(conns.map((nc) => nc.flush()));
      const before = notified;
      await a.ch.publish(message(3));
      await until(() => atB.some((m) => (m.data as { n: number }).n === 3), 'over NATS');
      await listener.query('SELECT 1');
      expect(notified).toBe(before);
      // a back on the fallback: b, on NATS, still hears it on PostgreSQL.
      a.ch.toFallback();
      expect(lostA).toHaveLength(2);
      await a.ch.publish(message(4));
      await until(() => atB.some((m) => (m.data as { n: number }).n === 4), 'over PostgreSQL again');
      await new Promise((r) => setTimeout(r, 150));
      // Once each on both sides (each process hears its own messages synchronously, never back).
      expect(atB.map((m) => (m.data as { n: number }).n)).toEqual([1, 2, 3, 4]);
      expect(atA.map((m) => (m.data as { n: number }).n)).toEqual([1, 2, 3, 4]);
      // The limit is the smaller transport's (NOTIFY's), whichever is in use.
      expect(a.ch.maxMessageBytes).toBeLessThan(8000);
    } finally {
      await listener.end();
    }
  });
});
