// The LiveChannel contract suite against the transports built here: local (one process) and
// PostgreSQL NOTIFY (a channel per store schema; a driver per simulated process).
import pg from 'pg';
import { afterAll } from 'vitest';
import { createLocalLiveChannel } from '../../server/bus/local-live-channel.js';
import { createPostgresLiveChannel, liveChannelName } from '../../server/bus/postgres-live-channel.js';
import type { LiveChannel } from '../../server/bus/live-channel.js';
import { openDriver } from '../../server/store/open-store.js';
import { tablesFor } from '../../server/store/tables.js';
import { freshSchema, postgresAvailability } from '../support/postgres.js';
import { describeLiveChannel } from './live-channel-suite.js';

describeLiveChannel('local', { open: async () => createLocalLiveChannel(), crossProcess: false });

const availability = await postgresAvailability();
if (availability.skipReason) console.log(`live-channel: PostgreSQL transport skipped: ${availability.skipReason}`);
if (availability.url) {
  const url = availability.url;
  const tables = tablesFor(freshSchema('lc'));
  const drivers: Array<{ close(): Promise<void> }> = [];
  afterAll(async () => {
    for (const d of drivers.splice(0)) await d.close();
  });
  describeLiveChannel('postgres', {
    crossProcess: true,
    async open(): Promise<LiveChannel> {
      const { driver } = await openDriver(url);
      drivers.push(driver);
      return createPostgresLiveChannel({ driver, tables });
    },
    async loseConnection() {
      // Every LISTEN connection of this channel name (each simulated process has one).
      const pool = new pg.Pool({ connectionString: url });
      try {
        await pool.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1', [`LISTEN "${liveChannelName(tables)}"`]);
      } finally {
        await pool.end();
      }
    },
  });
}
