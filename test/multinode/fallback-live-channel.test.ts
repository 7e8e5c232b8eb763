// The live channel of a node with the NATS bus (server/bus/fallback-live-channel.ts): the LiveChannel
// contract on its PostgreSQL fallback (NATS never reached), and the switch between NATS and the
// fallback with a NATS of the test's own: a message goes out on NATS alone while every process is
// on it, on both transports while one says it is on the fallback (so that it is heard there), and
// reaches each other process once whichever transport each is on; every switch is reported through
// onLost (receivers re-read latest values and presence).
import pg from 'pg';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  beforeAll(async () => {
    nats = await PrivateNats.start();
  });
  afterAll(async () => {
    for (const c of channels) await c.close();
    for (const nc of conns) await nc.close();
    await nats?.stop();
  });

  it('sends on NATS only while every node is on it, on both transports while one node says it is on the fallback, and each message reaches each process once', async () => {
    const tables = tablesFor(freshSchema('flcs'));
    const open = async () => {
      const ch = createFallbackLiveChannel(await pgChannel(tables));
      const nc = await connectNats(nats.url, 'test');
      conns.push(nc);
      channels.push(ch);
      return { ch, nc, nats: createNatsLiveChannel(nc, { root: 'fete.flcs' }) };
    };
    const a = await open();
    const b = await open();
    const lostA: number[] = [];
    a.ch.onLost(() => void lostA.push(1));
    const atA: LiveMessage[] = [];
    const atB: LiveMessage[] = [];
    a.ch.on('volatile', (m) => void atA.push(m));
    b.ch.on('volatile', (m) => void atB.push(m));
    const ns = (got: LiveMessage[]) => got.map((m) => (m.data as { n: number }).n);
    // Notifications on the PostgreSQL channel, as a third listener sees them.
    const listener = new pg.Client({ connectionString: pgAvail.url! });
    await listener.connect();
    const notified: Array<{ k: string }> = [];
    listener.on('notification', (n) => void notified.push(JSON.parse(n.payload!) as { k: string }));
    await listener.query(`LISTEN "${liveChannelName(tables)}"`);
    const message = (n: number): LiveMessage => ({ kind: 'volatile', tenant: 't', subject: 'rooms.r.cursor', data: { n } });
    try {
      // Both on the fallback.
      await a.ch.publish(message(1));
      await until(() => atB.length === 1, 'over PostgreSQL');
      expect(a.ch.transport).toBe('postgres');
      // a on NATS, b still on the fallback: a still hears b, which publishes on PostgreSQL...
      a.ch.toNats(a.nats, a.nc.flush());
      expect(lostA).toHaveLength(1);
      expect(a.ch.transport).toBe('nats');
      await b.ch.publish(message(2));
      await until(() => ns(atA).includes(2), "b's message at a");
      // ...and b, which says it is on the fallback, hears a: a sends on both transports.
      await until(() => a.ch.peersOnFallback === 1, "b's notice at a");
      await a.ch.publish(message(3));
      await until(() => ns(atB).includes(3), "a's message at b, cut off from NATS");
      // Both on NATS: once b says so, nothing more on PostgreSQL.
      b.ch.toNats(b.nats, b.nc.flush());
      await until(() => a.ch.peersOnFallback === 0, "b's return at a");
      await listener.query('SELECT 1'); // the notices sent so far have reached the listener
      const before = notified.length;
      await a.ch.publish(message(4));
      await until(() => ns(atB).includes(4), 'over NATS');
      await listener.query('SELECT 1');
      expect(notified.length).toBe(before);
      // a back on the fallback (its NATS connection still up): b, on NATS, hears it on PostgreSQL,
      // and sends its own messages on both, which a receives twice and delivers once.
      a.ch.toFallback();
      expect(lostA).toHaveLength(2);
      await a.ch.publish(message(5));
      await until(() => ns(atB).includes(5), 'over PostgreSQL again');
      await until(() => b.ch.peersOnFallback === 1, "a's notice at b");
      await b.ch.publish(message(6));
      await until(() => ns(atA).includes(6), "b's message at a");
      await new Promise((r) => setTimeout(r, 150));
      // Once each on both sides (each process hears its own messages synchronously, never back).
      expect(ns(atB)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(ns(atA)).toEqual([1, 2, 3, 4, 5, 6]);
      // The limit is the smaller transport's (NOTIFY's), whichever is in use.
      expect(a.ch.maxMessageBytes).toBeLessThan(8000);
    } finally {
      await listener.end();
    }
  });

  it('a node that stops saying it is on the fallback (a crash) stops costing the others a NOTIFY per message once its notice is stale', async () => {
    const tables = tablesFor(freshSchema('flct'));
    const a = createFallbackLiveChannel(await pgChannel(tables));
    channels.push(a);
    const nc = await connectNats(nats.url, 'test');
    conns.push(nc);
    a.toNats(createNatsLiveChannel(nc, { root: 'fete.flct' }), nc.flush());
    // b: on the fallback, on a database connection of its own that then dies with it.
    const { driver } = await openDriver(pgAvail.url!);
    const b = createFallbackLiveChannel(await createPostgresLiveChannel({ driver, tables }));
    await until(() => a.peersOnFallback === 1, "b's notice at a");
    await driver.close(); // b can no longer send anything, nor say it is leaving
    await until(() => a.peersOnFallback === 0, "b's notice going stale at a", 30_000);
    await b.close();
  }, 40_000);

  it('a message the size of maxMessageBytes is still carried when it goes on both transports (its id fits NOTIFY)', async () => {
    const tables = tablesFor(freshSchema('flcm'));
    const open = async () => {
      const ch = createFallbackLiveChannel(await pgChannel(tables));
      const nc = await connectNats(nats.url, 'test');
      conns.push(nc);
      channels.push(ch);
      return { ch, nc, nats: createNatsLiveChannel(nc, { root: 'fete.flcm' }) };
    };
    const a = await open();
    const b = await open();
    const atB: LiveMessage[] = [];
    b.ch.on('volatile', (m) => void atB.push(m));
    a.ch.toNats(a.nats, a.nc.flush());
    await until(() => a.ch.peersOnFallback === 1, "b's notice at a");
    // The largest message the channel takes: tenant and subject fixed, the data padded up to it.
    const base = { kind: 'volatile' as const, tenant: 't', subject: 'rooms.r.cursor' };
    const frame = Buffer.byteLength(JSON.stringify({ tenant: base.tenant, subject: base.subject, data: { pad: '' } }));
    const biggest: LiveMessage = { ...base, data: { pad: 'x'.repeat(a.ch.maxMessageBytes! - frame) } };
    await a.ch.publish(biggest);
    await until(() => atB.length === 1, 'the largest message at b, on PostgreSQL');
    expect(atB[0]!.data).toEqual(biggest.data);
    const over: LiveMessage = { ...base, data: { pad: 'x'.repeat(a.ch.maxMessageBytes! - frame + 1) } };
    await expect(a.ch.publish(over)).rejects.toMatchObject({ code: 'LIVE_TOO_LARGE' });
  });
});
