// Authentication and authorization at the fanout's edge: refused handshakes, denied subscribes and
// emits, presentation topics never accepted from clients, server-only headers, prototype pollution,
// and tenant isolation as a property over random subscriptions and emits.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FeteError, createEnvelope, encodeEnvelope, uuidv7 } from '../../shared/index.js';
import type { FanoutAuthorize } from '../../server/fanout/types.js';
import type { AuthRequest } from '../../server/security/security-options.js';
import { RawClient, sharePGlite, startServer, topics, until, type TestServer } from '../realtime/support.js';
import { closedAfterEach } from '../support/closed-after-each.js';

sharePGlite();
const servers = closedAfterEach<TestServer>();
const raws = closedAfterEach<RawClient>();
async function server(...args: Parameters<typeof startServer>): Promise<TestServer> {
  const s = await startServer(...args);
  servers.push(s);
  return s;
}
function raw(url: string, auth?: Record<string, unknown>): RawClient {
  const c = new RawClient(url, auth);
  raws.push(c);
  return c;
}

interface User {
  id: string;
  tenant: string;
}
const users: Record<string, User> = { alice: { id: 'alice', tenant: 't1' }, bob: { id: 'bob', tenant: 't2' }, carol: { id: 'carol', tenant: 't1' } };
const auth = ({ credentials: a }: AuthRequest): User => {
  const u = typeof a.token === 'string' ? users[a.token] : undefined;
  if (!u) throw new Error('bad token');
  return u;
};
/** Subscribe only under your tenant's prefix (a literal tenant token); emit only your tenant's messages. */
const tenantAuthorize: FanoutAuthorize<User> = {
  subscribe: (u, pattern) => pattern === `tenants.${u.tenant}.>` || pattern.startsWith(`tenants.${u.tenant}.`),
  emit: (u, topic, payload) => topic.name === topics.tenantMsg.name && (payload as { tenant: string }).tenant === u.tenant,
};

describe('handshake', () => {
  it('refuses a connection whose auth throws with UNAUTHORIZED, or with the FeteError code thrown', async () => {
    const s = await server({
      auth: (req) => {
        if (req.credentials.token === 'banned') throw new FeteError('FORBIDDEN', 'banned');
        if (req.credentials.token === 'none') return undefined;
        return auth(req);
      },
    });
    for (const [token, code] of [
      ['nobody', 'UNAUTHORIZED'],
      ['banned', 'FORBIDDEN'],
      ['none', 'UNAUTHORIZED'],
    ] as const) {
      const refused = await raw(s.url, { token }).refused();
      expect(refused.data).toEqual({ code });
    }
    await raw(s.url, { token: 'alice' }).connected();
    expect(s.fanout.stats()).toMatchObject({ refusedConnections: 3, sockets: 1 });
  });
});

describe('subscribe', () => {
  it('refuses patterns authorize.subscribe denies with FORBIDDEN; a throwing hook answers INTERNAL', async () => {
    const s = await server({
      auth,
      authorize: { subscribe: (u: User, p: string) => (p === 'tenants.boom.>' ? Promise.reject(new Error('db down')) : tenantAuthorize.subscribe!(u, p)) },
    });
    const c = raw(s.url, { token: 'alice' });
    await c.connected();
    expect(await c.sub('a', 'tenants.t2.>')).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await c.sub('a', '>')).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await c.sub('a', 'tenants.*.msgs.*')).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await c.sub('a', 'tenants.boom.>')).toEqual({ ok: false, error: { code: 'INTERNAL', message: 'internal error' } });
    expect(await c.sub('a', 'tenants.t1.>')).toMatchObject({ ok: true });
  });
});

describe('emit', () => {
  const allowAll: FanoutAuthorize = { emit: () => true };

  it('denies every client emit when there is no authorize.emit hook', async () => {
    const s = await server();
    const c = raw(s.url);
    await c.connected();
    const env = createEnvelope(topics.orderPlaced, { orderId: 'o1', total: 1 });
    expect(await c.emit([encodeEnvelope(env)])).toEqual({
      ok: true,
      results: [{ id: env.id, status: 'rejected', error: { code: 'FORBIDDEN', message: expect.any(String) } }],
    });
    expect(await s.fete.log.head()).toBe(0);
  });

  it('never accepts a presentation topic or a topic without clientEmit, even when authorize.emit allows all', async () => {
    const s = await server({ authorize: allowAll });
    const c = raw(s.url);
    await c.connected();
    const pres = createEnvelope(topics.orderStatus, { orderId: 'o1', status: 'paid' });
    const dom = createEnvelope(topics.audit, { msg: 'x' });
    const tick = { ...createEnvelope(topics.tick, { n: 1 }) };
    const ack = await c.emit([pres, dom, tick].map(encodeEnvelope));
    expect(ack.ok && ack.results.map((r) => r.status === 'rejected' && r.error.code)).toEqual(['FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN']);
    expect(await s.fete.log.head()).toBe(0);
  });

  it('answers one item per envelope, in order: accepted, duplicate with the original seq, and permanent rejections', async () => {
    const s = await server({ authorize: allowAll });
    const c = raw(s.url);
    await c.connected();
    const ok1 = createEnvelope(topics.orderPlaced, { orderId: 'o1', total: 1 });
    const bad = { ...createEnvelope(topics.orderPlaced, { orderId: 'o2', total: 2 }), payload: { orderId: 'o2', total: 'lots' } };
    const unknown = { ...ok1, id: uuidv7(), topic: 'nope.{x}' };
    const ack = await c.emit([encodeEnvelope(ok1), encodeEnvelope(bad), encodeEnvelope(unknown), 'not superjson', 42, encodeEnvelope(ok1)]);
    expect(ack).toEqual({
      ok: true,
      results: [
        { id: ok1.id, status: 'accepted', seq: 1 },
        { id: bad.id, status: 'rejected', error: { code: 'INVALID_PAYLOAD', message: expect.any(String) } },
        { id: unknown.id, status: 'rejected', error: { code: 'UNKNOWN_TOPIC', message: expect.any(String) } },
        { id: null, status: 'rejected', error: { code: 'MALFORMED', message: expect.any(String) } },
        { id: null, status: 'rejected', error: { code: 'MALFORMED', message: expect.any(String) } },
        { id: ok1.id, status: 'duplicate', seq: 1 },
      ],
    });
    expect(await c.emit([encodeEnvelope(ok1)])).toEqual({ ok: true, results: [{ id: ok1.id, status: 'duplicate', seq: 1 }] });
    expect(await c.emit('x')).toMatchObject({ ok: false, error: { code: 'MALFORMED' } });
    expect(await c.emit({ 0: 'x', length: 1 })).toMatchObject({ ok: false, error: { code: 'MALFORMED' } });
    expect(await c.emit(Array.from({ length: 101 }, () => 'x'))).toMatchObject({ ok: false, error: { code: 'TOO_LARGE' } });
  });

  it('records the authenticated principal as actor and drops client-set actor and tenant headers', async () => {
    const s = await server({ auth, authorize: tenantAuthorize });
    const c = raw(s.url, { token: 'alice' });
    await c.connected();
    const env = createEnvelope(topics.tenantMsg, { tenant: 't1', room: 'r', text: 'hi' }, { headers: { actor: 'mallory', tenant: 't2', x: 'y' } });
    const ack = await c.emit([encodeEnvelope(env)]);
    expect(ack).toMatchObject({ ok: true, results: [{ status: 'accepted' }] });
    const { events } = await s.fete.log.read(0);
    expect(events[0]!.headers).toMatchObject({ actor: 'alice', x: 'y' });
    expect(events[0]!.headers).not.toHaveProperty('tenant');
    expect(events[0]!.context.principal).toEqual(users.alice);
    // Another tenant's message is refused by the hook.
    const other = createEnvelope(topics.tenantMsg, { tenant: 't2', room: 'r', text: 'hi' });
    expect(await c.emit([encodeEnvelope(other)])).toMatchObject({ ok: true, results: [{ status: 'rejected', error: { code: 'FORBIDDEN' } }] });
  });

  it('after a retryable failure the rest of the packet is not applied and gets the same error', async () => {
    let calls = 0;
    const s = await server({
      authorize: {
        emit: () => {
          if (++calls === 2) throw new FeteError('STORE_UNAVAILABLE', 'acl store down');
          return true;
        },
      },
    });
    const c = raw(s.url);
    await c.connected();
    const envs = [1, 2, 3].map((n) => createEnvelope(topics.orderPlaced, { orderId: `o${n}`, total: n }));
    const ack = await c.emit(envs.map(encodeEnvelope));
    expect(ack.ok && ack.results.map((r) => (r.status === 'rejected' ? r.error.code : r.status))).toEqual(['accepted', 'STORE_UNAVAILABLE', 'STORE_UNAVAILABLE']);
    expect(ack.ok && ack.results.map((r) => r.id)).toEqual(envs.map((e) => e.id));
    expect(await s.fete.log.head()).toBe(1);
  });

  it('rejects __proto__ and constructor keys with FORBIDDEN_KEY and leaves Object.prototype untouched', async () => {
    const s = await server({ authorize: allowAll });
    const c = raw(s.url);
    await c.connected();
    const env = createEnvelope(topics.orderPlaced, { orderId: 'o1', total: 1 });
    const text = encodeEnvelope(env);
    const polluted = [
      text.replace('"total":1', '"total":1,"__proto__":{"polluted":true}'),
      text.replace('"total":1', '"total":1,"constructor":{"prototype":{"polluted":true}}'),
      text.replace('"headers":{}', '"headers":{"__proto__":{"polluted":"yes"}}'),
      JSON.stringify({ ...(JSON.parse(text) as object), meta: { values: { 'payload.__proto__.polluted': ['undefined'] } } }),
    ];
    expect(new Set(polluted).size).toBe(4);
    const ack = await c.emit(polluted);
    expect(ack.ok && ack.results.map((r) => (r.status === 'rejected' ? r.error.code : r.status))).toEqual([
      'FORBIDDEN_KEY',
      'FORBIDDEN_KEY',
      'FORBIDDEN_KEY',
      'FORBIDDEN_KEY',
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    expect(await s.fete.log.head()).toBe(0);
  });
});

describe('tenant isolation', () => {
  it('a tenant never receives another tenant’s events, whatever it subscribes to and whoever emits (property)', async () => {
    const s = await server({ auth, authorize: tenantAuthorize });
    const names = Object.keys(users);
    const sockets = names.map((n) => raw(s.url, { token: n }));
    await Promise.all(sockets.map((c) => c.connected()));
    const patternArb = fc.oneof(
      fc.constantFrom('>', 'tenants.>', 'tenants.*.msgs.*', 'tenants.t1.>', 'tenants.t2.>', 'tenants.t1.msgs.*', 'tenants.t2.msgs.r1', 'orders.>'),
      fc.tuple(fc.constantFrom('t1', 't2', '*'), fc.constantFrom('r1', 'r2', '*')).map(([t, r]) => `tenants.${t}.msgs.${r}`),
    );
    let round = 0;
    let delivered = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(names.length - 1), patternArb), { minLength: 1, maxLength: 6 }),
        fc.array(fc.tuple(fc.nat(names.length - 1), fc.constantFrom('t1', 't2'), fc.constantFrom('r1', 'r2')), { minLength: 1, maxLength: 8 }),
        async (subs, emits) => {
          round++;
          const sids: Array<[RawClient, string]> = [];
          for (const [k, [who, pattern]] of subs.entries()) {
            const sid = `r${round}-${k}`;
            const ack = await sockets[who]!.sub(sid, pattern);
            if (ack.ok) sids.push([sockets[who]!, sid]);
          }
          for (const [who, tenant, room] of emits) {
            const env = createEnvelope(topics.tenantMsg, { tenant, room, text: `${round}` });
            await sockets[who]!.emit([encodeEnvelope(env)]);
            // The server emits too (not through authorize): any tenant's events exist in the log.
            await s.fete.emit(topics.tenantMsg, { tenant, room, text: `${round}` });
          }
          const head = await s.fete.log.head();
          await until(() => s.fanout.stats().tailCursor >= head, 'tail caught up');
          // A round trip per socket: everything sent before it has arrived.
          await Promise.all(sockets.map((c) => c.sub(`sync-${round}`, 'tenants.t0.none')));
          for (const [c, sid] of sids) {
            c.socket.emit('unsub', { sid });
            const tenant = users[names[sockets.indexOf(c)]!]!.tenant;
            for (const e of c.events.get(sid) ?? []) {
              delivered++;
              expect(e.subject.split('.')[1]).toBe(tenant);
            }
          }
          for (const [i, c] of sockets.entries())
            for (const [sid, list] of c.events)
              for (const e of list) if (sid.startsWith(`r${round}-`)) expect((e.payload as { tenant: string }).tenant).toBe(users[names[i]!]!.tenant);
        },
      ),
      { numRuns: 40 },
    );
    expect(delivered).toBeGreaterThan(0); // the property was not vacuous
  }, 60_000);
});
