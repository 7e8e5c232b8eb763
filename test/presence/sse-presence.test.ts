// Presence over the HTTP door, as over Socket.IO: an SSE stream watches presence (GET
// /fete/presence, a snapshot then join/leave/update in the shapes of the socket packets), a JSON
// snapshot answers the same, an SSE event stream on a presence subject is a member as a socket
// subscription is, and every refusal, tenant scope and limit is the socket's. On PGlite and inline.
import { describe, expect, test } from 'vitest';
import type { FeteOptions } from '../../server/options.js';
import { freshSchema } from '../support/postgres.js';
import { sharedStore, sharePGlite } from '../realtime/support.js';
import { brief, presenceScope, type PresenceServer, type Topics, until } from './fixtures.js';
import { presenceJson, type SsePresenceWatch, streamOver, watchOverSse } from './sse-support.js';

function ssePresenceSuite(store: () => Pick<FeteOptions<Topics>, 'store' | 'schema' | 'dispatch'>): void {
  const { server, client, track } = presenceScope(store);
  const watch = async (s: PresenceServer, pattern: string, who: { user: string; tenant?: string }) => track(await watchOverSse(s.url, pattern, who));
  const stream = async (s: PresenceServer, pattern: string, who: { user: string; tenant?: string }, presence?: string) => track(await streamOver(s.url, pattern, who, presence));

  test('an SSE watcher gets the members, then the joins, updates and leaves of socket members, as a socket watcher gets them', async () => {
    const s = await server();
    const carol = await client(s, { user: 'carol' });
    await carol.sub('c', 'rooms.r2.chat');
    await until(async () => (await s.fete.presence('rooms.r2.chat')).length === 1, 'carol listed');
    const socketWatcher = await client(s, { user: 'bob' });
    const ack = await socketWatcher.watch('w', 'rooms.*.chat');
    const sse = await watch(s, 'rooms.*.chat', { user: 'bob' });
    expect(sse.opened.status).toBe(200);
    await until(() => sse.snapshots.length === 1, 'snapshot');
    expect(ack.ok && ack.members).toEqual(sse.snapshots[0]);
    expect(brief(sse.snapshots[0]!)).toEqual(['rooms.r2.chat @carolx1']);
    const alice = await client(s, { user: 'alice' });
    await alice.sub('a', 'rooms.r1.chat', { state: { typing: false } });
    await until(() => sse.changes.length === 1, 'alice joins');
    expect(await alice.set('a', { typing: true })).toEqual({ ok: true });
    await until(() => sse.changes.length === 2, 'alice types');
    alice.close();
    await until(() => sse.changes.length === 3, 'alice leaves');
    expect(sse.changes.map((c) => `${c.type} ${c.member.id}x${c.member.connections} ${JSON.stringify(c.member.state)}`)).toEqual([
      'join @alicex1 {"typing":false}',
      'update @alicex1 {"typing":true}',
      'leave @alicex0 {"typing":true}', // a leave names the member as it was
    ]);
    await until(() => socketWatcher.events('w').length === 3, 'the socket watcher saw the same');
    expect(socketWatcher.events('w').map(({ wid: _wid, ...change }) => change)).toEqual(sse.changes);
    // No message of a presence stream has an id: nothing of it is in the log.
    expect(sse.opened.blocks.every((b) => b.id === undefined)).toBe(true);
  });

  test('GET /fete/presence without an event-stream Accept answers the members as JSON', async () => {
    const s = await server();
    const alice = await client(s, { user: 'alice' });
    await alice.sub('a', 'rooms.r1.chat', { state: 'here' });
    await until(async () => (await s.fete.presence('rooms.r1.chat')).length === 1, 'alice listed');
    const res = await presenceJson(s.url, 'rooms.>', { user: 'bob' });
    expect(res).toEqual({ status: 200, body: { members: [{ subject: 'rooms.r1.chat', id: '@alice', connections: 1, state: 'here' }] } });
    expect(JSON.stringify(res.body)).not.toMatch(/secret|"user"/);
  });

  test('an SSE event stream on a presence subject is a member with its state until it ends; presence=false and wildcards are not', async () => {
    const s = await server();
    const watcher = await client(s, { user: 'carol' });
    await watcher.watch('w', 'rooms.*.chat');
    const alice = await stream(s, 'rooms.r1.chat', { user: 'alice' }, JSON.stringify({ state: { typing: true } }));
    expect(alice.status).toBe(200);
    const hidden = await stream(s, 'rooms.r1.chat', { user: 'bob' }, 'false');
    const wide = await stream(s, 'rooms.*.chat', { user: 'dave' });
    expect([hidden.status, wide.status]).toEqual([200, 200]);
    await until(() => watcher.events('w').length === 1, 'alice joins');
    expect(watcher.events('w')[0]).toMatchObject({ type: 'join', member: { subject: 'rooms.r1.chat', id: '@alice', connections: 1, state: { typing: true } } });
    // A socket subscription of the same principal is one more connection of the same member.
    const aliceSocket = await client(s, { user: 'alice' });
    await aliceSocket.sub('a', 'rooms.r1.chat');
    await until(() => watcher.events('w').length === 2, 'second connection');
    expect(brief(await s.fete.presence('rooms.>'))).toEqual(['rooms.r1.chat @alicex2']);
    alice.close();
    await until(() => watcher.events('w').length === 3, 'the stream left');
    expect(watcher.events('w')[2]).toMatchObject({ type: 'update', member: { id: '@alice', connections: 1 } });
    aliceSocket.close();
    await until(() => watcher.events('w').length === 4, 'alice left');
    expect(watcher.events('w').map((e) => `${e.type} ${e.member.id}`)).toEqual(['join @alice', 'update @alice', 'update @alice', 'leave @alice']);
  });

  test('a bad presence parameter on an event stream is refused with a typed error before the stream starts', async () => {
    const s = await server();
    const bad = await stream(s, 'rooms.r1.chat', { user: 'alice' }, '{nope');
    expect([bad.status, bad.error?.code]).toEqual([400, 'MALFORMED']);
    const big = await stream(s, 'rooms.r1.chat', { user: 'alice' }, JSON.stringify({ state: 'x'.repeat(2000) }));
    expect([big.status, big.error?.code]).toEqual([413, 'TOO_LARGE']);
    const proto = await stream(s, 'rooms.r1.chat', { user: 'alice' }, '{"state":{"__proto__":{"polluted":1}}}');
    expect([proto.status, proto.error?.code]).toEqual([400, 'FORBIDDEN_KEY']);
    expect(await s.fete.presence('rooms.>')).toEqual([]);
  });

  test('watching presence over HTTP is refused exactly as over the socket: authorize.subscribe, presence topics, patterns, auth', async () => {
    const s = await server();
    const socket = await client(s, { user: 'alice' });
    const code = (ack: { ok: boolean; error?: { code: string } }) => (ack.ok ? 'ok' : ack.error!.code);
    const cases: Array<[pattern: string, user: string | undefined]> = [
      ['rooms.vault.chat', 'alice'], // authorize.subscribe says no
      ['lobby.*', 'alice'], // no presence topic
      ['rooms..chat', 'alice'], // not a pattern
      ['rooms.vault.chat', 'admin'], // allowed
    ];
    for (const [pattern, user] of cases) {
      const viaSocket = user === 'admin' ? code(await (await client(s, { user: 'admin' })).watch(pattern, pattern)) : code(await socket.watch(pattern, pattern));
      const sse = await watch(s, pattern, { user: user! });
      const json = await presenceJson(s.url, pattern, { user: user! });
      expect([pattern, sse.opened.error?.code ?? 'ok', json.body.error?.code ?? 'ok']).toEqual([pattern, viaSocket, viaSocket]);
    }
    const forbidden = await watch(s, 'rooms.vault.chat', { user: 'alice' });
    expect(forbidden.opened.status).toBe(403);
    const anonymous = await fetch(`${s.url}/fete/presence?pattern=rooms.r1.chat`, { headers: { accept: 'text/event-stream' } });
    expect(anonymous.status).toBe(401);
    const missing = await fetch(`${s.url}/fete/presence`, { headers: { 'x-user': 'alice' } });
    expect([missing.status, ((await missing.json()) as { error: { code: string } }).error.code]).toEqual([400, 'INVALID_PATTERN']);
  });

  test('presence over HTTP is scoped by tenant: a watcher of one tenant never sees another', async () => {
    const s = await server();
    const t1 = await watch(s, 'rooms.>', { user: 'carol', tenant: 't1' });
    const t2 = await watch(s, 'rooms.>', { user: 'dave', tenant: 't2' });
    await until(() => t1.snapshots.length === 1 && t2.snapshots.length === 1, 'snapshots');
    const bob = await client(s, { user: 'bob', tenant: 't2' });
    await bob.sub('b', 'rooms.r1.chat');
    const eve = await stream(s, 'rooms.r1.chat', { user: 'eve', tenant: 't2' });
    expect(eve.status).toBe(200);
    const alice = await client(s, { user: 'alice', tenant: 't1' });
    await alice.sub('a', 'rooms.r1.chat');
    await until(() => t1.changes.length === 1 && t2.changes.length === 2, 'joins');
    await new Promise((r) => setTimeout(r, 100));
    expect(t1.changes.map((c) => c.member.id)).toEqual(['@alice']);
    expect(t2.changes.map((c) => c.member.id).sort()).toEqual(['@bob', '@eve']);
    expect((await presenceJson(s.url, 'rooms.>', { user: 'carol', tenant: 't1' })).body.members?.map((m) => m.id)).toEqual(['@alice']);
    expect((await presenceJson(s.url, 'rooms.>', { user: 'zed' })).body.members).toEqual([]);
  });

  test('a caller holds at most 32 presence watch streams open; past it, 429 RATE_LIMITED, and other callers are not limited', async () => {
    const s = await server({ presence: { heartbeatMs: 50, ttlMs: 300, maxStateUpdatesPerSecond: 1000 } });
    const open: SsePresenceWatch[] = [];
    for (let i = 0; i < 32; i++) open.push(await watch(s, 'rooms.r1.chat', { user: 'alice' }));
    expect(open.every((w) => w.opened.status === 200)).toBe(true);
    const over = await watch(s, 'rooms.r1.chat', { user: 'alice' });
    expect([over.opened.status, over.opened.error?.code]).toEqual([429, 'RATE_LIMITED']);
    expect((await watch(s, 'rooms.r1.chat', { user: 'bob' })).opened.status).toBe(200);
    const gauge = async () => /^fete_http_presence_streams (\d+)$/m.exec(await (await fetch(`${s.url}/fete/metrics`)).text())?.[1];
    await until(async () => (await gauge()) === '33', 'the open streams counted');
    open[0]!.close();
    const again = await until(async () => {
      const w = await watch(s, 'rooms.r1.chat', { user: 'alice' });
      return w.opened.status === 200 && w;
    }, 'a slot freed');
    expect(again.opened.status).toBe(200);
  });

  test('watches over HTTP faster than the watch rate are told to retry later', async () => {
    const s = await server({ presence: { heartbeatMs: 50, ttlMs: 300, maxStateUpdatesPerSecond: 0.1 } });
    const answers = await Promise.all(Array.from({ length: 40 }, () => presenceJson(s.url, 'rooms.r1.chat', { user: 'alice' })));
    const refused = answers.filter((a) => a.status !== 200);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((a) => a.status === 429 && a.body.error?.code === 'RATE_LIMITED')).toBe(true);
    expect((await presenceJson(s.url, 'rooms.r1.chat', { user: 'bob' })).status).toBe(200);
  });

  test('open presence streams end when the router closes and when the fete stops', async () => {
    const s = await server();
    const byRouter = await watch(s, 'rooms.>', { user: 'alice' });
    await until(() => byRouter.snapshots.length === 1, 'snapshot');
    s.router.close();
    await byRouter.opened.ended;
    const byStop = await watch(s, 'rooms.>', { user: 'alice' });
    const member = await stream(s, 'rooms.r1.chat', { user: 'bob' });
    await until(() => byStop.snapshots.length === 1, 'snapshot');
    await s.fete.stop();
    await byStop.opened.ended;
    await member.ended;
  });
}

describe('presence over HTTP on PGlite', () => {
  sharePGlite();
  ssePresenceSuite(() => ({ store: sharedStore(), schema: freshSchema('sp') }));
});

describe('presence over HTTP inline (no store)', () => {
  ssePresenceSuite(() => ({ dispatch: 'inline', schema: freshSchema('sp') }));
});
