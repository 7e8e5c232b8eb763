// Presence on one fete, run against each store (PGlite, PostgreSQL, inline memory): who is listed,
// what watchers see, and every refusal.
import { expect, test } from 'vitest';
import type { FeteOptions } from '../../server/options.js';
import { runInTenant } from '../../server/index.js';
import { brief, presenceScope, type Topics, until } from './fixtures.js';

export function presenceSuite(store: () => Pick<FeteOptions<Topics>, 'store' | 'schema' | 'dispatch' | 'bus'>): void {
  const { server, client } = presenceScope(store);

  test('a subscriber to a subject of a presence topic is listed by its public id only, and leaves when it unsubscribes', async () => {
    const s = await server();
    const alice = await client(s, { user: 'alice' });
    expect((await alice.sub('s1', 'rooms.r1.chat')).ok).toBe(true);
    const members = await until(async () => {
      const m = await s.fete.presence('rooms.r1.chat');
      return m.length > 0 && m;
    }, 'alice listed');
    expect(members).toEqual([{ subject: 'rooms.r1.chat', id: '@alice', connections: 1, state: undefined }]);
    expect(JSON.stringify(members)).not.toMatch(/secret|"user"/);
    await alice.unsub('s1');
    await until(async () => (await s.fete.presence('rooms.r1.chat')).length === 0, 'alice gone');
  });

  test('a watcher gets the members, then join, update and leave in order, with connection counts and state', async () => {
    const s = await server();
    const bob = await client(s, { user: 'bob' });
    const early = await client(s, { user: 'carol' });
    await early.sub('c', 'rooms.r2.chat');
    await until(async () => (await s.fete.presence('rooms.r2.chat')).length === 1, 'carol listed');
    const ack = await bob.watch('w', 'rooms.*.chat');
    expect(ack).toEqual({ ok: true, members: [{ subject: 'rooms.r2.chat', id: '@carol', connections: 1 }] });
    // One step at a time: changes of one member in quick succession are coalesced (latest wins).
    const step = async (n: number, act: () => unknown) => {
      await act();
      await until(() => bob.events('w').length >= n, `change ${n}`);
    };
    const alice1 = await client(s, { user: 'alice' });
    const alice2 = await client(s, { user: 'alice' });
    await step(1, async () => expect((await alice1.sub('a', 'rooms.r1.chat', { state: { typing: false } })).ok).toBe(true));
    await step(2, async () => expect(await alice1.set('a', { typing: true })).toEqual({ ok: true }));
    await step(3, () => alice2.sub('a', 'rooms.r1.chat'));
    await step(4, () => alice1.close());
    await step(5, () => alice2.close());
    await step(6, () => early.close());
    await new Promise((r) => setTimeout(r, 50));
    expect(bob.events('w').map((e) => `${e.type} ${e.member.id}x${e.member.connections} ${JSON.stringify(e.member.state)}`)).toEqual([
      'join @alicex1 {"typing":false}',
      'update @alicex1 {"typing":true}',
      'update @alicex2 {"typing":true}',
      // State belongs to the connection that set it: alice1 left, alice2 never set one.
      'update @alicex1 undefined',
      'leave @alicex0 undefined',
      'leave @carolx0 undefined',
    ]);
  });

  test('a second watcher of a region already watched gets the same members, kept current by the first one', async () => {
    const s = await server();
    const first = await client(s, { user: 'bob' });
    await first.watch('w', 'rooms.r1.chat');
    const alice = await client(s, { user: 'alice' });
    await alice.sub('a', 'rooms.r1.chat', { state: 1 });
    await until(() => first.events('w').length === 1, 'alice joins');
    const second = await client(s, { user: 'carol' });
    expect(await second.watch('w', 'rooms.r1.chat')).toEqual({ ok: true, members: [{ subject: 'rooms.r1.chat', id: '@alice', connections: 1, state: 1 }] });
    first.close();
    await until(async () => (await s.fete.presence('rooms.r1.chat')).length === 1, 'still listed');
    alice.close();
    await until(() => second.events('w').length === 1, 'alice leaves');
    expect(second.events('w')[0]).toMatchObject({ type: 'leave', member: { id: '@alice' } });
  });

  test('a wildcard subscription does not make its connection a member, and a principal without public id is never listed', async () => {
    const s = await server();
    const watcher = await client(s, { user: 'bob' });
    await watcher.watch('w', 'rooms.>');
    const wide = await client(s, { user: 'alice' });
    await wide.sub('x', 'rooms.*.chat');
    const ghost = await client(s, { user: 'ghost' });
    await ghost.sub('g', 'rooms.r1.chat');
    const seen = await client(s, { user: 'dave' });
    await seen.sub('d', 'rooms.r1.chat');
    await until(() => watcher.events('w').length >= 1, 'dave joins');
    expect(brief(await s.fete.presence('rooms.>'))).toEqual(['rooms.r1.chat @davex1']);
    expect(watcher.events('w').map((e) => e.member.id)).toEqual(['@dave']);
  });

  test('presence is refused for a pattern matching no presence topic, to an unauthorized watcher, and for malformed packets', async () => {
    const s = await server();
    const c = await client(s, { user: 'alice' });
    const code = (ack: { ok: boolean; error?: { code: string } }) => (ack.ok ? 'ok' : ack.error!.code);
    expect(code(await c.watch('w1', 'lobby.*'))).toBe('FORBIDDEN');
    expect(code(await c.watch('w2', 'rooms.vault.chat'))).toBe('FORBIDDEN');
    expect(code(await c.watch('w3', 'rooms..chat'))).toBe('INVALID_PATTERN');
    expect(code(await c.watch('', 'rooms.*.chat'))).toBe('MALFORMED');
    expect(code(await c.set('nope', { a: 1 }))).toBe('NOT_FOUND');
    expect(code(await c.sub('big', 'rooms.r1.chat', { state: 'x'.repeat(2000) }))).toBe('TOO_LARGE');
    expect(code(await c.sub('proto', 'rooms.r1.chat', JSON.parse('{"state":{"__proto__":{"polluted":1}}}')))).toBe('FORBIDDEN_KEY');
    expect(code(await c.sub('ok', 'rooms.r1.chat'))).toBe('ok');
    expect(code(await c.set('ok', { deep: [[[[[[[[[[1]]]]]]]]]] }))).toBe('INVALID_PAYLOAD');
    const admin = await client(s, { user: 'admin' });
    expect(code(await admin.watch('w', 'rooms.vault.chat'))).toBe('ok');
    // The socket still works after every refusal.
    expect(brief(await s.fete.presence('rooms.r1.chat'))).toEqual(['rooms.r1.chat @alicex1']);
  });

  test('a socket setting its state too often is told to retry later, and other sockets are not slowed', async () => {
    const s = await server();
    const busy = await client(s, { user: 'alice' });
    const calm = await client(s, { user: 'bob' });
    await busy.sub('a', 'rooms.r1.chat');
    await calm.sub('b', 'rooms.r1.chat');
    const acks = await Promise.all(Array.from({ length: 40 }, (_, i) => busy.set('a', { i })));
    const refused = acks.filter((a) => !a.ok);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((a) => !a.ok && a.error.code === 'RATE_LIMITED')).toBe(true);
    expect(await calm.set('b', { here: true })).toEqual({ ok: true });
    await until(async () => (await s.fete.presence('rooms.r1.chat')).find((m) => m.id === '@bob')?.state !== undefined, 'bob state');
  });

  test('presence is scoped by tenant: watchers and fete.presence see their own tenant only', async () => {
    const s = await server();
    const a = await client(s, { user: 'alice', tenant: 't1' });
    const b = await client(s, { user: 'bob', tenant: 't2' });
    const watch1 = await client(s, { user: 'carol', tenant: 't1' });
    await watch1.watch('w', 'rooms.>');
    await a.sub('a', 'rooms.r1.chat');
    await b.sub('b', 'rooms.r1.chat');
    await until(async () => (await s.fete.presence('rooms.r1.chat', { tenant: 't2' })).length === 1, 'bob listed in t2');
    expect(brief(await s.fete.presence('rooms.r1.chat', { tenant: 't1' }))).toEqual(['rooms.r1.chat @alicex1']);
    expect(brief(await s.fete.presence('rooms.r1.chat', { tenant: 't2' }))).toEqual(['rooms.r1.chat @bobx1']);
    expect(await s.fete.presence('rooms.r1.chat')).toEqual([]);
    // Inside a tenant's context (a listener of its events, runInTenant), that tenant is the default.
    expect(brief(await runInTenant('t2', () => s.fete.presence('rooms.r1.chat')))).toEqual(['rooms.r1.chat @bobx1']);
    await until(() => watch1.events('w').length >= 1, 'alice joins for t1');
    await new Promise((r) => setTimeout(r, 100));
    expect(watch1.events('w').map((e) => e.member.id)).toEqual(['@alice']);
  });

  test('fete.observePresence gives the members, then each change, to a callback and a for-await loop', async () => {
    const s = await server();
    const seen: string[] = [];
    const observer = s.fete.observePresence('rooms.*.chat', { onChange: (c) => seen.push(`${c.type} ${c.member.id}`) });
    expect(await observer.ready).toEqual([]);
    const a = await client(s, { user: 'alice' });
    await a.sub('a', 'rooms.r1.chat');
    const it = observer[Symbol.asyncIterator]();
    expect((await it.next()).value).toMatchObject({ type: 'join', member: { id: '@alice', subject: 'rooms.r1.chat', connections: 1 } });
    expect(brief(observer.members)).toEqual(['rooms.r1.chat @alicex1']);
    a.close();
    expect((await it.next()).value).toMatchObject({ type: 'leave', member: { id: '@alice' } });
    expect(seen).toEqual(['join @alice', 'leave @alice']);
    observer.close();
    expect((await it.next()).done).toBe(true);
  });

  test('a for-await loop over fete.observePresence ends when the fete stops, rather than wait for changes that cannot come', async () => {
    const s = await server();
    const observer = s.fete.observePresence('rooms.*.chat');
    await observer.ready;
    const loop = (async () => {
      const seen: string[] = [];
      for await (const c of observer) seen.push(c.type);
      return seen;
    })();
    await s.fete.stop();
    expect(await loop).toEqual([]);
    expect(observer.closed).toBe(true);
  });

  test('without security.publicId, watching presence is refused and subscriptions still work', async () => {
    const s = await server({ security: { auth: 'anonymous' } });
    const c = await client(s, {});
    const ack = await c.watch('w', 'rooms.*.chat');
    expect(ack.ok ? 'ok' : ack.error.code).toBe('INVALID_OPTIONS');
    expect((await c.sub('s', 'rooms.r1.chat')).ok).toBe(true);
    expect(await s.fete.presence('rooms.r1.chat')).toEqual([]);
  });
}
