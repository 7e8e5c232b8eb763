// Presence with the NATS bus: the shared presence suite on PostgreSQL with `bus: { nats }` (the
// fete's live channel is then the bus's, server/bus/nats-live-channel.ts), and two fetes on one
// schema, where a join on one reaches a watcher on the other over NATS.
import pg from 'pg';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { dropSchemas, freshSchema, postgresAvailability } from '../support/postgres.js';
import { PresenceClient, type PresenceServer, startPresenceServer, until } from '../presence/fixtures.js';
import { presenceSuite } from '../presence/presence-suite.js';
import { natsAvailability } from './nats.js';

const pgAvail = await postgresAvailability();
const natsAvail = await natsAvailability();
const skip = pgAvail.skipReason ?? natsAvail.skipReason;
if (skip) console.log(`skipping the presence-over-NATS tests: ${skip}`);
const schemas: string[] = [];
const schema = () => {
  const s = freshSchema('prn');
  schemas.push(s);
  return s;
};

describe.skipIf(skip !== undefined)('presence over the NATS bus', () => {
  afterAll(async () => {
    const pool = new pg.Pool({ connectionString: pgAvail.url! });
    await dropSchemas(pool, schemas);
    await pool.end();
  });

  presenceSuite(() => ({ store: pgAvail.url!, schema: schema(), bus: { nats: natsAvail.url! } }));

  describe('two fetes', () => {
    const servers: PresenceServer[] = [];
    const clients: PresenceClient[] = [];
    afterEach(async () => {
      for (const c of clients.splice(0)) c.close();
      for (const s of servers.splice(0)) await s.close();
    });

    test('a join on one fete reaches a watcher on the other through the bus, and so does the leave', async () => {
      const s = schema();
      const bus = { nats: natsAvail.url! };
      const a = await startPresenceServer({ store: pgAvail.url!, schema: s, roles: ['web'], bus });
      const b = await startPresenceServer({ store: pgAvail.url!, schema: s, roles: ['web'], bus });
      servers.push(a, b);
      const watcher = new PresenceClient(b.url, { user: 'bob' });
      const alice = new PresenceClient(a.url, { user: 'alice' });
      clients.push(watcher, alice);
      await Promise.all([watcher.connected(), alice.connected()]);
      expect(await watcher.watch('w', 'rooms.*.chat')).toEqual({ ok: true, members: [] });
      await alice.sub('s', 'rooms.r1.chat', { state: { mood: 'ok' } });
      await until(() => watcher.events('w').length >= 1, 'join');
      expect(watcher.events('w')[0]).toMatchObject({ type: 'join', member: { id: '@alice', connections: 1, state: { mood: 'ok' } } });
      alice.close();
      await until(() => watcher.events('w').some((e) => e.type === 'leave'), 'leave');
    });
  });
});
