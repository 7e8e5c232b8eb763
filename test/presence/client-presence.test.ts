// The browser client's presence (client.presence, subscribe's presence option, setPresence) over a
// real Socket.IO connection to a fete on PGlite, including a reconnect that must re-sync the list.
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, test } from 'vitest';
import { createClient, socketTransport, type Client, type PresenceMember } from '../../client/index.js';
import { sharedStore, sharePGlite } from '../realtime/support.js';
import { freshSchema } from '../support/postgres.js';
import { brief, type PresenceServer, startPresenceServer, topics, until } from './fixtures.js';

const fast = socketTransport({ reconnectionDelay: 10, reconnectionDelayMax: 50 });

describe('client.presence', () => {
  sharePGlite();
  const servers: PresenceServer[] = [];
  const clients: Client<typeof topics>[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    for (const s of servers.splice(0)) await s.close();
  });
  const start = async () => {
    const s = await startPresenceServer({ store: sharedStore(), schema: freshSchema('prc') });
    servers.push(s);
    return s;
  };
  const client = (s: PresenceServer, auth: Record<string, unknown> | (() => Promise<Record<string, unknown>>)) => {
    const c = createClient({ url: s.url, topics, outbox: 'memory', auth, transport: fast });
    clients.push(c);
    return c;
  };

  test('lists members with their state, and reports join, update and leave', async () => {
    const s = await start();
    const bob = client(s, { user: 'bob' });
    const view = bob.presence('rooms.*.chat');
    await view.ready;
    expect(view.members).toEqual([]);
    const log: string[] = [];
    view.on('join', (m) => log.push(`join ${m.id} ${JSON.stringify(m.state)}`));
    view.on('update', (m) => log.push(`update ${m.id} ${JSON.stringify(m.state)}`));
    view.on('leave', (m) => log.push(`leave ${m.id}`));
    const alice = client(s, { user: 'alice' });
    const sub = alice.subscribe('rooms.r1.chat', () => undefined, { presence: { state: { mood: 'hi' } } });
    await sub.ready;
    await until(() => log.length === 1, 'join');
    await sub.setPresence({ mood: 'busy' });
    await until(() => log.length === 2, 'update');
    expect(view.get('rooms.r1.chat', '@alice')).toEqual({ subject: 'rooms.r1.chat', id: '@alice', connections: 1, state: { mood: 'busy' } });
    await expect(sub.setPresence({ bad: () => 1 } as never)).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
    sub.unsubscribe();
    await until(() => log.length === 3, 'leave');
    expect(log).toEqual(['join @alice {"mood":"hi"}', 'update @alice {"mood":"busy"}', 'leave @alice']);
    expect(view.members).toEqual([]);
  });

  test('after a reconnect the list is re-synced: who left meanwhile leaves, who came joins, no ghost stays', async () => {
    const s = await start();
    let gate: Promise<void> = Promise.resolve();
    const bob = client(s, async () => {
      await gate;
      return { user: 'bob' };
    });
    const view = bob.presence('rooms.>');
    const alice = client(s, { user: 'alice' });
    const aliceSub = alice.subscribe('rooms.r1.chat', () => undefined);
    await Promise.all([view.ready, aliceSub.ready]);
    await until(() => view.members.length === 1, 'alice listed');
    const log: string[] = [];
    view.on('join', (m) => log.push(`join ${m.id}`));
    view.on('leave', (m) => log.push(`leave ${m.id}`));
    const synced: PresenceMember[][] = [];
    view.on('sync', (members) => synced.push(members));
    // Cut bob's connection and hold its reconnect while the room changes.
    let open!: () => void;
    gate = new Promise((r) => (open = r));
    for (const socket of s.fanout.io.of('/fete').sockets.values()) if ((socket.handshake.auth as { user?: string }).user === 'bob') socket.conn.close();
    await until(() => !view.live, 'bob disconnected');
    aliceSub.unsubscribe();
    const carol = client(s, { user: 'carol' });
    await carol.subscribe('rooms.r2.chat', () => undefined).ready;
    await until(async () => brief(await s.fete.presence('rooms.>')).join() === 'rooms.r2.chat @carolx1', 'the room changed');
    expect(log).toEqual([]); // nothing reaches a disconnected view
    expect(brief(view.members)).toEqual(['rooms.r1.chat @alicex1']); // the stale list, not live
    open();
    await until(() => view.live && synced.length === 1, 're-synced');
    expect(log.sort()).toEqual(['join @carol', 'leave @alice']);
    expect(brief(view.members)).toEqual(['rooms.r2.chat @carolx1']);
    expect(brief(synced[0]!)).toEqual(['rooms.r2.chat @carolx1']);
  });

  test('a pattern matching no presence topic rejects ready with FORBIDDEN and closes the view', async () => {
    const s = await start();
    const bob = client(s, { user: 'bob' });
    // @ts-expect-error lobby.* declares no presence: the compiler refuses it; the server too, for untyped callers
    const view = bob.presence('lobby.*');
    await expect(view.ready).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(view.closed).toBe(true);
    // @ts-expect-error the compiler refuses it too: the runtime check is for untyped callers
    expect(() => bob.presence('rooms..x')).toThrow(expect.objectContaining({ code: 'INVALID_PATTERN' }));
  });
});
