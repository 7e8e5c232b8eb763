// Presence on PostgreSQL: the shared suite, then two fete processes' worth on one schema (two
// createFete in this process, each with its own pool and LISTEN connection), and a real OS process
// killed with SIGKILL whose members must leave once its heartbeat expires.
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { IpcChild } from '../support/ipc-child.js';
import { dropSchemasAt, freshSchema, postgresAvailability } from '../support/postgres.js';
import type { FeteOptions } from '../../server/options.js';
import { brief, PresenceClient, type PresenceServer, startPresenceServer, type Topics, until } from './fixtures.js';
import type { NodeConfig, NodeReply } from './presence-node-child.js';
import { presenceSuite } from './presence-suite.js';
import { presenceJson, streamOver, watchOverSse } from './sse-support.js';
import { canRunPrivateNats, natsAvailability, PrivateNats } from '../multinode/nats.js';

const availability = await postgresAvailability();
const nats = await natsAvailability();
if (availability.skipReason) console.log(`skipping the PostgreSQL presence tests: ${availability.skipReason}`);
if (nats.skipReason) console.log(`skipping the presence test over the NATS bus: ${nats.skipReason}`);
const schemas: string[] = [];
const schema = () => {
  const s = freshSchema('pr');
  schemas.push(s);
  return s;
};

describe.skipIf(availability.skipReason !== undefined)('presence on PostgreSQL', () => {
  afterAll(async () => {
    await dropSchemasAt(availability.url!, schemas);
  });

  presenceSuite(() => ({ store: availability.url!, schema: schema() }));

  test('a fete whose catalogue declares no presence costs nothing: no presence LISTEN, no node row', async () => {
    const { createFete } = await import('../../server/index.js');
    const { defineTopic, defineTopics } = await import('../../shared/index.js');
    const s = schema();
    const plain = defineTopics({ feed: defineTopic('feed.{id}', { kind: 'presentation' }) });
    const fete = await createFete({ topics: plain, store: availability.url!, schema: s, roles: ['web'], security: { auth: 'anonymous', publicId: () => 'x' } });
    const pool = new pg.Pool({ connectionString: availability.url! });
    try {
      const listening = await pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = $1`, [`LISTEN "fete_${s}_live"`]);
      expect(listening.rows[0].n).toBe(0);
      expect((await pool.query(`SELECT count(*)::int AS n FROM "${s}".presence_nodes`)).rows[0].n).toBe(0);
      expect(await fete.presence('feed.>')).toEqual([]);
    } finally {
      await pool.end();
      await fete.stop();
    }
  });

  test('a presence state limit the live channel could not carry is refused at createFete', async () => {
    const { createFete } = await import('../../server/index.js');
    const { security, topics } = await import('./fixtures.js');
    await expect(createFete({ topics, security, store: availability.url!, schema: schema(), presence: { maxStateBytes: 10_000 } })).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
      message: expect.stringMatching(/maxStateBytes/),
    });
  });

  describe('across processes', () => {
    const servers: PresenceServer[] = [];
    const clients: PresenceClient[] = [];
    const children: IpcChild<never, NodeReply>[] = [];
    afterEach(async () => {
      for (const c of clients.splice(0)) c.close();
      for (const s of servers.splice(0)) await s.close();
      for (const c of children.splice(0)) await c.kill();
    });
    const client = async (url: string, credentials: Record<string, unknown>) => {
      const c = new PresenceClient(url, credentials);
      clients.push(c);
      await c.connected();
      return c;
    };
    /** Two fetes with the web role on schema `s` (closed after the test). */
    const twoFetes = async (s: string, extra: Partial<FeteOptions<Topics>> = {}) => {
      const a = await startPresenceServer({ store: availability.url!, schema: s, roles: ['web'], ...extra });
      const b = await startPresenceServer({ store: availability.url!, schema: s, roles: ['web'], ...extra });
      servers.push(a, b);
      return [a, b] as const;
    };

    test('a join on one fete reaches a watcher on the other, and so does the leave', async () => {
      const s = schema();
      const [a, b] = await twoFetes(s);
      const watcher = await client(b.url, { user: 'bob' });
      expect(await watcher.watch('w', 'rooms.*.chat')).toEqual({ ok: true, members: [] });
      const alice = await client(a.url, { user: 'alice' });
      await alice.sub('s', 'rooms.r1.chat', { state: { mood: 'ok' } });
      const alice2 = await client(b.url, { user: 'alice' });
      await alice2.sub('s', 'rooms.r1.chat');
      await until(() => watcher.events('w').length >= 2, 'join and second connection');
      expect(brief(await a.fete.presence('rooms.r1.chat'))).toEqual(['rooms.r1.chat @alicex2']);
      expect(await b.fete.presence('rooms.r1.chat')).toEqual([{ subject: 'rooms.r1.chat', id: '@alice', connections: 2, state: { mood: 'ok' } }]);
      alice.close();
      alice2.close();
      await until(() => watcher.events('w').some((e) => e.type === 'leave'), 'leave');
      expect(watcher.events('w').map((e) => `${e.type} x${e.member.connections}`)).toEqual(['join x1', 'update x2', 'update x1', 'leave x0']);
      expect(await a.fete.presence('rooms.>')).toEqual([]);
    });

    test('over HTTP across fetes: an SSE watcher on one sees socket and SSE members of the other join and leave, and so does a socket watcher', async () => {
      const s = schema();
      const a = await startPresenceServer({ store: availability.url!, schema: s, roles: ['web'] });
      const b = await startPresenceServer({ store: availability.url!, schema: s, roles: ['web'] });
      servers.push(a, b);
      const sse = await watchOverSse(b.url, 'rooms.*.chat', { user: 'bob' });
      const socketWatcher = await client(b.url, { user: 'carol' });
      await socketWatcher.watch('w', 'rooms.*.chat');
      try {
        await until(() => sse.snapshots.length === 1, 'snapshot');
        expect(sse.snapshots[0]).toEqual([]);
        const alice = await client(a.url, { user: 'alice' });
        await alice.sub('s', 'rooms.r1.chat', { state: 'on a' });
        const dave = await streamOver(a.url, 'rooms.r2.chat', { user: 'dave' });
        expect(dave.status).toBe(200);
        await until(() => sse.changes.length === 2, 'alice and dave join');
        expect((await presenceJson(b.url, 'rooms.>', { user: 'bob' })).body.members).toEqual([
          { subject: 'rooms.r1.chat', id: '@alice', connections: 1, state: 'on a' },
          { subject: 'rooms.r2.chat', id: '@dave', connections: 1 },
        ]);
        alice.close();
        dave.close();
        await until(() => sse.changes.length === 4, 'both leave');
        expect(sse.changes.map((c) => `${c.type} ${c.member.id}`).sort()).toEqual(['join @alice', 'join @dave', 'leave @alice', 'leave @dave']);
        await until(() => socketWatcher.events('w').length === 4, 'the socket watcher saw the same');
        expect(socketWatcher.events('w').map(({ wid: _wid, ...change }) => change)).toEqual(sse.changes);
      } finally {
        sse.close();
      }
    });

    test("a member's state is the newest one set by its connections on any fete, and goes with the connection that set it", async () => {
      const s = schema();
      const [a, b] = await twoFetes(s);
      const watcher = await client(a.url, { user: 'bob' });
      await watcher.watch('w', 'rooms.r1.chat');
      const onA = await client(a.url, { user: 'alice' });
      const onB = await client(b.url, { user: 'alice' });
      await onA.sub('s', 'rooms.r1.chat', { state: 'on a' });
      await until(() => watcher.events('w').length === 1, 'join');
      await new Promise((r) => setTimeout(r, 5)); // a later clock reading for the second state
      await onB.sub('s', 'rooms.r1.chat', { state: 'on b' });
      await until(() => watcher.events('w').length === 2, 'second connection');
      expect(watcher.events('w')[1]).toMatchObject({ type: 'update', member: { connections: 2, state: 'on b' } });
      onB.close();
      await until(() => watcher.events('w').length === 3, 'b leaves');
      expect(watcher.events('w')[2]).toMatchObject({ type: 'update', member: { connections: 1, state: 'on a' } });
      expect(await b.fete.presence('rooms.r1.chat')).toEqual([{ subject: 'rooms.r1.chat', id: '@alice', connections: 1, state: 'on a' }]);
    });

    test.runIf(nats.url !== undefined)('with the NATS bus, joins and leaves travel on NATS between the fetes, not through PostgreSQL NOTIFY', async () => {
      const s = schema();
      const bus = { nats: nats.url! };
      const [a, b] = await twoFetes(s, { bus });
      // Notifications on the schema's live channel (every node listens there, for when NATS is
      // away: server/bus/fallback-live-channel.ts), as a third listener sees them.
      const listener = new pg.Client({ connectionString: availability.url! });
      await listener.connect();
      let notified = 0;
      listener.on('notification', () => void notified++);
      await listener.query(`LISTEN "fete_${s}_live"`);
      const watcher = await client(b.url, { user: 'bob', tenant: 't1' });
      await watcher.watch('w', 'rooms.>');
      const other = await client(b.url, { user: 'eve', tenant: 't2' });
      await other.watch('w', 'rooms.>');
      const alice = await client(a.url, { user: 'alice', tenant: 't1' });
      await alice.sub('s', 'rooms.r1.chat', { state: 'hi' });
      await until(() => watcher.events('w').length === 1, 'join over NATS');
      expect(watcher.events('w')[0]).toMatchObject({ type: 'join', member: { id: '@alice', state: 'hi' } });
      alice.close();
      await until(() => watcher.events('w').length === 2, 'leave over NATS');
      expect(other.events('w')).toEqual([]); // another tenant
      try {
        await listener.query('SELECT 1'); // notifications sent before it are delivered by now
        expect(notified).toBe(0);
        // The channel listened to is the nodes' own (a's and b's LISTEN connections).
        const listening = await listener.query(`SELECT 1 FROM pg_stat_activity WHERE query = $1`, [`LISTEN "fete_${s}_live"`]);
        expect(listening.rowCount).toBe(2);
      } finally {
        await listener.end();
      }
    });

    test.runIf(canRunPrivateNats())('a leave announced while NATS was down reaches the other fete once NATS is back', async () => {
      const natsServer = await PrivateNats.start();
      try {
        const s = schema();
        const bus = { nats: natsServer.url };
        const [a, b] = await twoFetes(s, { bus });
        const watcher = await client(b.url, { user: 'bob' });
        await watcher.watch('w', 'rooms.>');
        const alice = await client(a.url, { user: 'alice' });
        await alice.sub('s', 'rooms.r1.chat');
        await until(() => watcher.events('w').length === 1, 'join over NATS');
        await natsServer.stop();
        alice.close();
        await until(async () => (await a.fete.presence('rooms.>')).length === 0, 'the leave is in the table');
        await natsServer.start();
        // b re-reads the table when its NATS connection drops or comes back (onLost), and a's
        // announcement, buffered by its NATS client, may arrive too: the leave is reported once.
        await until(() => watcher.events('w').length === 2, 'the leave', 60_000);
        const alsoB = await client(b.url, { user: 'carol' });
        await alsoB.sub('s', 'rooms.r2.chat'); // a later change: time for a duplicate leave to show
        await until(() => watcher.events('w').length === 3, 'carol joins');
        expect(watcher.events('w').map((e) => `${e.type} ${e.member.id}`)).toEqual(['join @alice', 'leave @alice', 'join @carol']);
      } finally {
        for (const sv of servers.splice(0)) await sv.close();
        await natsServer.stop();
      }
    });

    test('a watcher that starts after others joined on another fete gets them in its snapshot', async () => {
      const s = schema();
      const [a, b] = await twoFetes(s);
      const alice = await client(a.url, { user: 'alice' });
      await alice.sub('s', 'rooms.r9.chat');
      await until(async () => (await b.fete.presence('rooms.r9.chat')).length === 1, 'alice in the table');
      const watcher = await client(b.url, { user: 'bob' });
      const ack = await watcher.watch('w', 'rooms.r9.chat');
      expect(ack.ok && brief(ack.members)).toEqual(['rooms.r9.chat @alicex1']);
    });

    test('a fete whose live channel connection was lost re-reads the table: a leave it missed still reaches its watchers', async () => {
      const s = schema();
      const [a, b] = await twoFetes(s);
      const watcher = await client(b.url, { user: 'bob' });
      await watcher.watch('w', 'rooms.>');
      const alice = await client(a.url, { user: 'alice' });
      await alice.sub('s', 'rooms.r1.chat');
      await until(() => watcher.events('w').length === 1, 'alice joins');
      // Cut every LISTEN connection of the presence channel (both fetes'); the drivers re-listen
      // after 1 s. The leave below is announced meanwhile, and b cannot hear it.
      const pool = new pg.Pool({ connectionString: availability.url! });
      try {
        const listening = `SELECT pid FROM pg_stat_activity WHERE query = $1`;
        const query = `LISTEN "fete_${s}_live"`;
        const { rows } = await pool.query<{ pid: number }>(listening, [query]);
        expect(rows.length).toBe(2);
        for (const r of rows) await pool.query('SELECT pg_terminate_backend($1)', [r.pid]);
        await until(async () => (await pool.query(listening, [query])).rowCount === 0, 'listeners gone');
        alice.close();
        await until(async () => (await a.fete.presence('rooms.>')).length === 0, 'the leave is in the table');
        // Its NOTIFY went out while b had no LISTEN connection (b re-listens after 1 s, then
        // re-reads the table): the leave reaches the watcher through the re-read, once.
        await until(() => watcher.events('w').length === 2, 'the leave after the re-read');
        expect(watcher.events('w')[1]).toMatchObject({ type: 'leave', member: { id: '@alice', subject: 'rooms.r1.chat' } });
        await new Promise((r) => setTimeout(r, 200));
        expect(watcher.events('w')).toHaveLength(2);
      } finally {
        await pool.end();
      }
    });

    test('a crowd joining one room through two fetes is listed exactly, by both, and leaves without a trace', async () => {
      const s = schema();
      const [a, b] = await twoFetes(s);
      const wa = await client(a.url, { user: 'watcher-a' });
      const wb = await client(b.url, { user: 'watcher-b' });
      await wa.watch('w', 'rooms.big.chat');
      await wb.watch('w', 'rooms.big.chat');
      // 150 users, each with one connection on a and one on b (every other user also a second on a).
      const crowd: PresenceClient[] = [];
      for (let i = 0; i < 150; i++) {
        const conns = [await client(a.url, { user: `u${i}` }), await client(b.url, { user: `u${i}` })];
        if (i % 2 === 0) conns.push(await client(a.url, { user: `u${i}` }));
        crowd.push(...conns);
      }
      await Promise.all(crowd.map((c) => c.sub('s', 'rooms.big.chat')));
      const expected = Array.from({ length: 150 }, (_, i) => `u${i}x${i % 2 === 0 ? 3 : 2}`).sort();
      const listed = async (f: PresenceServer) => (await f.fete.presence('rooms.big.chat')).map((m) => `${m.id.slice(1)}x${m.connections}`).sort();
      // Both until: on a loaded machine a fete may stall past the TTL of 300 ms, be swept and come
      // back under a new id (presence-hub.ts #reregister), its members missing from the table
      // meanwhile.
      await until(async () => (await listed(a)).join() === expected.join(), 'everyone listed');
      await until(async () => (await listed(b)).join() === expected.join(), 'everyone listed by b');
      // The watchers' views, rebuilt from their changes, agree with the table.
      const view = (w: PresenceClient) => {
        const m = new Map<string, number>();
        for (const e of w.events('w')) {
          if (e.type === 'leave') m.delete(e.member.id);
          else m.set(e.member.id, e.member.connections);
        }
        return [...m].map(([id, n]) => `${id.slice(1)}x${n}`).sort();
      };
      await until(() => view(wa).join() === expected.join() && view(wb).join() === expected.join(), 'watchers agree');
      for (const c of crowd) c.close();
      await until(() => view(wa).length === 0 && view(wb).length === 0, 'everyone left');
      expect(await a.fete.presence('rooms.>')).toEqual([]);
      const pool = new pg.Pool({ connectionString: availability.url! });
      try {
        expect((await pool.query(`SELECT count(*)::int AS n FROM "${s}".presence`)).rows[0].n).toBe(0);
      } finally {
        await pool.end();
      }
    });

    test('a member who joined a fete while it was swept as dead (a stall longer than the TTL) leaves the watchers once it is gone', async () => {
      const s = schema();
      // Heartbeats and sweeps only when the test calls tick(): the interleaving below is forced.
      const [a, b] = await twoFetes(s, { presence: { heartbeatMs: 3_600_000, ttlMs: 7_200_000 } });
      const hubA = a.fete.presenceService.hub;
      const hubB = b.fete.presenceService.hub;
      const watcher = await client(b.url, { user: 'bob' });
      await watcher.watch('w', 'rooms.>');
      const alice = await client(a.url, { user: 'alice' });
      await alice.sub('s', 'rooms.r1.chat');
      await until(() => watcher.events('w').length === 1, 'alice joins');
      // a stalls past its TTL: b sweeps it (alice leaves with it), and a has not noticed yet.
      const pool = new pg.Pool({ connectionString: availability.url! });
      const swept = hubA.node;
      try {
        await pool.query(`UPDATE "${s}".presence_nodes SET expires_at = now() - interval '1 second' WHERE node = $1`, [swept]);
      } finally {
        await pool.end();
      }
      await hubB.tick();
      await until(() => watcher.events('w').length === 2, 'alice swept');
      // Carol joins a before its next heartbeat: written and announced under the swept id, a row
      // the sweep never saw.
      const carol = await client(a.url, { user: 'carol' });
      await carol.sub('s', 'rooms.r2.chat');
      await hubA.flushed();
      // a's heartbeat finds it was swept: it registers again under a new id (its members join again).
      await hubA.tick();
      expect(hubA.node).not.toBe(swept);
      await until(async () => brief(await b.fete.presence('rooms.>')).join() === 'rooms.r1.chat @alicex1,rooms.r2.chat @carolx1', 'both listed again');
      alice.close();
      carol.close();
      const view = () => {
        const m = new Map<string, number>();
        for (const e of watcher.events('w')) {
          if (e.type === 'leave') m.delete(e.member.id);
          else m.set(e.member.id, e.member.connections);
        }
        return m;
      };
      await until(() => view().size === 0, 'everyone left');
      expect(await b.fete.presence('rooms.>')).toEqual([]);
      // Nobody was ever counted twice: carol was one connection throughout.
      expect(watcher.events('w').filter((e) => e.member.id === '@carol').map((e) => `${e.type} x${e.member.connections}`)).toEqual(['join x1', 'leave x0']);
    });

    test('the members of a process killed with SIGKILL leave once its heartbeat expires, announced by a live process', async () => {
      const s = schema();
      const survivor = await startPresenceServer({ store: availability.url!, schema: s, roles: ['web'] });
      servers.push(survivor);
      const child = new IpcChild<never, NodeReply>(fileURLToPath(new URL('./presence-node-child.ts', import.meta.url)), [JSON.stringify({ url: availability.url!, schema: s } satisfies NodeConfig)], {
        label: 'presence node',
      });
      children.push(child);
      const { port } = await child.next('ready', 60_000);
      const doomedUrl = `http://127.0.0.1:${port}`;
      const watcher = await client(survivor.url, { user: 'bob' });
      await watcher.watch('w', 'rooms.>');
      const carol = await client(doomedUrl, { user: 'carol' });
      await carol.sub('s', 'rooms.r1.chat');
      const dave = await client(survivor.url, { user: 'dave' });
      await dave.sub('s', 'rooms.r1.chat');
      await until(() => watcher.events('w').length >= 2, 'carol and dave join');
      await child.kill(); // SIGKILL: no graceful cleanup, no leave message
      await until(() => watcher.events('w').some((e) => e.type === 'leave'), 'carol leaves after expiry');
      expect(watcher.events('w').map((e) => `${e.type} ${e.member.id}`).sort()).toEqual(['join @carol', 'join @dave', 'leave @carol']);
      expect(brief(await survivor.fete.presence('rooms.>'))).toEqual(['rooms.r1.chat @davex1']);
    });
  });
});
