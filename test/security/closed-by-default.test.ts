// With the default options and no `auth`, every door refuses an anonymous caller: the Socket.IO
// handshake (and with it the socket's `cmd` packet), HTTP emit, the SSE stream, HTTP commands and
// queries (and recorded command results), the inspector and the metrics.
// Regression for the README wiring that left HTTP open while the socket demanded a token.
import { describe, expect, it } from 'vitest';
import { createFete } from '../../server/index.js';
import { uuidv7 } from '../../shared/index.js';
import { commands } from '../commands/commands-fixtures.js';
import { RawClient } from '../realtime/support.js';
import { bearer, postEmit, sharePGlite, startSecureServer, users, type SecureServer } from './support/secure-server.js';
import { closedAfterEach } from '../support/closed-after-each.js';

sharePGlite();
const servers = closedAfterEach<SecureServer>();
const raws = closedAfterEach<RawClient>();

async function server(...args: Parameters<typeof startSecureServer>): Promise<SecureServer> {
  const s = await startSecureServer(...args);
  servers.push(s);
  return s;
}

const order = { topic: 'orders.{orderId}.placed', payload: { orderId: 'o1', n: 1 } };

describe('no auth configured: every door is closed', () => {
  it('refuses a Socket.IO connection with UNAUTHORIZED', async () => {
    const s = await server(undefined);
    const c = new RawClient(s.url, { token: 'alice' });
    raws.push(c);
    expect((await c.refused()).data).toEqual({ code: 'UNAUTHORIZED' });
  });

  it('refuses POST /emit with 401 and stores nothing, even when authorize.emit allows everything', async () => {
    const s = await server({ authorize: { emit: () => true, subscribe: () => true } });
    const res = await postEmit(s.api, order, bearer('alice'));
    expect(res.status).toBe(401);
    expect(res.json).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
    // Refused before the body is read: a body over the size limit is still a 401, not a 413.
    const big = await fetch(`${s.api}/emit`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(2 * 1024 * 1024) });
    expect(big.status).toBe(401);
    expect(await s.fete.log.head()).toBe(0);
  });

  it('refuses GET /stream with 401 before streaming anything, whatever the pattern', async () => {
    const s = await server({ authorize: { subscribe: () => true } });
    await s.fete.emit(s.fete.topics.notice, { room: 'r', n: 1 });
    for (const pattern of ['>', 'orders.>', 'a..b']) {
      const res = await fetch(`${s.api}/stream?pattern=${encodeURIComponent(pattern)}&from=earliest`);
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/json/);
      expect(await res.json()).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
    }
  });

  it('refuses HTTP commands and queries with 401 and runs nothing, even when authorize.command allows everything', async () => {
    const s = await server({ authorize: { command: () => true } });
    let ran = 0;
    s.fete.handle(commands.place, () => ({ orderId: `o${++ran}`, number: 1, at: new Date(0) }));
    s.fete.handle(commands.list, () => {
      ran++;
      return [];
    });
    const json = { 'content-type': 'application/json', ...bearer('alice') };
    const placed = await fetch(`${s.api}/commands/orders.place`, { method: 'POST', headers: json, body: JSON.stringify({ id: uuidv7(), input: { sku: 'tea', qty: 1 } }) });
    expect(placed.status).toBe(401);
    expect(await placed.json()).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
    const queried = await fetch(`${s.api}/queries/orders.list?input=${encodeURIComponent('{}')}`, { headers: bearer('alice') });
    expect(queried.status).toBe(401);
    expect(ran).toBe(0);
    // A recorded result is not read without an `auth` hook either.
    const id = uuidv7();
    await s.fete.execute(commands.place, { sku: 'tea', qty: 1 }, { id });
    const result = await fetch(`${s.api}/commands/results/${id}`, { headers: bearer('alice') });
    expect(result.status).toBe(401);
    expect(await result.json()).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
  });

  it('keeps the inspector off (404) by default, and refuses an anonymous caller (401) even when enabled', async () => {
    const off = await server(undefined);
    expect((await fetch(`${off.api}/inspector/events?after=0`)).status).toBe(404);
    expect((await fetch(`${off.api}/inspector/dead-letters/1/retry`, { method: 'POST' })).status).toBe(404);
    const on = await server(undefined, { inspector: { authorize: () => true } });
    for (const [path, method] of [['/inspector/events?after=0', 'GET'], ['/inspector/topics', 'GET'], ['/inspector/dead-letters/1/retry', 'POST']] as const) {
      const res = await fetch(`${on.api}${path}`, { method, headers: bearer('alice') });
      expect(res.status).toBe(401);
    }
  });

  it("keeps the metrics off (404) by default, refuses an anonymous caller (401) when guarded, and serves them only when declared 'public'", async () => {
    const off = await server(undefined);
    expect((await fetch(`${off.api}/metrics`)).status).toBe(404);
    const guarded = await server(undefined, { metrics: { authorize: () => true } });
    expect((await fetch(`${guarded.api}/metrics`, { headers: bearer('alice') })).status).toBe(401);
    const pub = await server(undefined, { metrics: 'public' });
    const res = await fetch(`${pub.api}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('fete_log_head_seq');
  });
});

describe("auth: 'anonymous' opens the doors only when said explicitly", () => {
  it('lets an anonymous socket and HTTP caller in, still within authorize and exposure', async () => {
    const s = await server({ auth: 'anonymous' });
    const c = new RawClient(s.url);
    raws.push(c);
    await c.connected();
    expect(await c.sub('n', 'notices.>')).toMatchObject({ ok: true });
    // authorize.emit is still deny-by-default.
    expect((await postEmit(s.api, order)).status).toBe(403);
    const sse = await fetch(`${s.api}/stream?pattern=notices.>`);
    expect(sse.status).toBe(200);
    await sse.body?.cancel();
  });

  it('refuses options that would split the config: auth or authorize given to attach or express', async () => {
    const s = await server({ auth: ({ credentials }) => (credentials.token === 'alice' ? users.alice : undefined) });
    expect(() => s.fete.express({ auth: () => 'x' } as never)).toThrow(/moved to createFete/);
    expect(() => s.fete.attach(s.http, { authorize: {} } as never)).toThrow(/moved to createFete/);
  });

  it('refuses a second tenant hook: commands take security.tenant, so commands.tenant is an INVALID_OPTIONS', async () => {
    await expect(createFete({ topics: {}, store: 'memory', commands: { tenant: () => 'x' } as never })).rejects.toThrow(/security: \{ tenant \}/);
  });
});
