// Regression tests for the leaks of issue 10, each named after the behaviour that now holds:
// idempotency keys and ids per tenant, the inspector scoped and stripped, domain events kept from
// browsers on both doors, and the headers the server owns.
import { describe, expect, it } from 'vitest';
import { createEnvelope, encodeEnvelope, uuidv7 } from '../../shared/index.js';
import { runAs, runInTenant } from '../../server/index.js';
import { RawClient, until } from '../realtime/support.js';
import {
  bearer,
  collectSse,
  postEmit,
  sharePGlite,
  startSecureServer,
  tenantSecurity,
  topics,
  users,
  type SecureServer,
} from './support/secure-server.js';
import { closedAfterEach } from '../support/closed-after-each.js';

sharePGlite();
const servers = closedAfterEach<SecureServer>();
const raws = closedAfterEach<RawClient>();
const streams = closedAfterEach<{ close(): void }>();
async function server(...args: Parameters<typeof startSecureServer>): Promise<SecureServer> {
  const s = await startSecureServer(...args);
  servers.push(s);
  return s;
}
async function socket(s: SecureServer, user: string): Promise<RawClient> {
  const c = new RawClient(s.url, { token: user });
  raws.push(c);
  await c.connected();
  return c;
}
const chat = (room: string, n: number) => ({ topic: topics.chat.name, payload: { room, n } });

describe('idempotency keys and ids are unique per tenant', () => {
  it("another tenant's idempotency key never swallows this tenant's emit, nor reveals its seq", async () => {
    const s = await server(tenantSecurity);
    // Tenant globex (bob) uses the key first.
    const b = await postEmit(s.api, { ...chat('r', 1), idempotencyKey: 'order-42' }, bearer('bob'));
    expect(b.json.results[0]).toMatchObject({ status: 'accepted' });
    const bSeq = b.json.results[0].seq as number;
    // Tenant acme (alice) uses the same key for its own order: stored, with its own seq.
    const a = await postEmit(s.api, { ...chat('r', 2), idempotencyKey: 'order-42' }, bearer('alice'));
    expect(a.status).toBe(200);
    expect(a.json.results[0]).toMatchObject({ status: 'accepted' });
    const aSeq = a.json.results[0].seq as number;
    expect(aSeq).not.toBe(bSeq);
    // A retry within acme is a duplicate of acme's own event (carol is in acme too).
    const again = await postEmit(s.api, { ...chat('r', 3), idempotencyKey: 'order-42' }, bearer('carol'));
    expect(again.json.results[0]).toEqual({ id: expect.any(String), status: 'duplicate', seq: aSeq });
    const { events } = await s.fete.log.read(0);
    expect(events.map((e) => [e.headers.tenant, e.payload])).toEqual([
      ['globex', { room: 'r', n: 1 }],
      ['acme', { room: 'r', n: 2 }],
    ]);
  });

  it("another tenant's event id never swallows this tenant's emit, on any door", async () => {
    const s = await server(tenantSecurity);
    const id = uuidv7();
    const b = await postEmit(s.api, { ...chat('r', 1), id }, bearer('bob'));
    expect(b.json.results[0]).toMatchObject({ id, status: 'accepted' });
    // Same id over the socket from acme: its own event.
    const alice = await socket(s, 'alice');
    const ack = await alice.emit([encodeEnvelope(createEnvelope(topics.chat, { room: 'r', n: 2 }, { id }))]);
    expect(ack).toMatchObject({ ok: true, results: [{ id, status: 'accepted' }] });
    const first = ack.ok ? ack.results[0] : undefined;
    expect(first && 'seq' in first ? first.seq : undefined).not.toBe(b.json.results[0].seq);
    // Same id from the server, for a third tenant and for the default tenant: two more events.
    expect((await s.fete.emit(topics.notice, { room: 'r', n: 3 }, { id, tenant: 'initech' })).duplicate).toBe(false);
    expect((await s.fete.emit(topics.notice, { room: 'r', n: 4 }, { id })).duplicate).toBe(false);
    // And a repeat within a tenant is still a duplicate.
    expect((await s.fete.emit(topics.notice, { room: 'r', n: 5 }, { id, tenant: 'initech' })).duplicate).toBe(true);
    expect(await s.fete.log.head()).toBe(4);
  });

  it('keeps ids and keys per tenant under inline dispatch too (the in-memory log)', async () => {
    const s = await server(tenantSecurity, {}, { dispatch: 'inline' });
    const r1 = await s.fete.emit(topics.notice, { room: 'r', n: 1 }, { idempotencyKey: 'k', tenant: 'acme' });
    const r2 = await s.fete.emit(topics.notice, { room: 'r', n: 2 }, { idempotencyKey: 'k', tenant: 'globex' });
    const r3 = await s.fete.emit(topics.notice, { room: 'r', n: 3 }, { idempotencyKey: 'k', tenant: 'acme' });
    expect([r1.duplicate, r2.duplicate, r3.duplicate]).toEqual([false, false, true]);
    expect(r3.seq).toBe(r1.seq);
  });

  it("stamps the tenant from the principal on browser and HTTP emits; a client's tenant header is never trusted", async () => {
    const s = await server(tenantSecurity);
    await postEmit(s.api, { ...chat('r', 1), headers: { tenant: 'globex', Tenant: 'globex', actor: 'bob' } }, bearer('alice'));
    const alice = await socket(s, 'alice');
    await alice.emit([encodeEnvelope(createEnvelope(topics.chat, { room: 'r', n: 2 }, { headers: { tenant: 'globex' } }))]);
    const dave = await socket(s, 'dave');
    await dave.emit([encodeEnvelope(createEnvelope(topics.chat, { room: 'r', n: 3 }, { headers: { tenant: 'acme' } }))]);
    const { events } = await s.fete.log.read(0);
    expect(events.map((e) => [e.headers.tenant, e.headers.actor, e.headers.Tenant])).toEqual([
      ['acme', 'alice', undefined],
      ['acme', 'alice', undefined],
      [undefined, 'dave', undefined], // the default tenant carries no header
    ]);
  });

  it("server emits take { tenant } or inherit the current tenant (runInTenant, or a listener's event)", async () => {
    const s = await server(tenantSecurity, {}, { dispatch: 'inline' });
    s.fete.on(topics.chat, 'echo', async (p) => {
      if (p.n === 1) await s.fete.emit(topics.notice, { room: p.room, n: 100 });
    });
    await runInTenant('acme', () => s.fete.emit(topics.chat, { room: 'r', n: 1 }));
    await until(async () => (await s.fete.log.head()) === 2, 'echo emitted');
    await s.fete.emit(topics.notice, { room: 'r', n: 2 }, { tenant: 'globex' });
    const { events } = await s.fete.log.read(0);
    expect(events.map((e) => [e.payload, e.headers.tenant])).toEqual([
      [{ room: 'r', n: 1 }, 'acme'],
      [{ room: 'r', n: 100 }, 'acme'],
      [{ room: 'r', n: 2 }, 'globex'],
    ]);
  });
});

describe('the inspector', () => {
  const inspector = { authorize: (u: { id: string }) => u.id !== 'bob', reveal: (u: { id: string }) => u.id === 'carol' };

  it("shows a caller its own tenant's events only, without the emitter's principal unless revealed", async () => {
    const s = await server(tenantSecurity, { inspector });
    await runAs(users.alice, () => s.fete.emit(topics.chat, { room: 'r', n: 1 }, { tenant: 'acme' }));
    await runAs(users.bob, () => s.fete.emit(topics.chat, { room: 'r', n: 2 }, { tenant: 'globex' }));
    await s.fete.emit(topics.ledger, { account: 'a', secret: 'default-tenant' });
    const res = await fetch(`${s.api}/inspector/events?after=0`, { headers: bearer('alice') });
    expect(res.status).toBe(200);
    const text = await res.text();
    const { events } = JSON.parse(text) as { events: Array<{ payload: { n?: number }; context: Record<string, unknown> }> };
    expect(events.map((e) => e.payload.n)).toEqual([1]);
    expect(events[0]!.context).toEqual({});
    expect(text).not.toContain(users.alice.secret);
    expect(text).not.toContain('globex');
    // carol (acme) may see contexts: the principal is there for her.
    const revealed = (await (await fetch(`${s.api}/inspector/events?after=0`, { headers: bearer('carol') })).json()) as { events: Array<{ context: { principal?: { id: string } } }> };
    expect(revealed.events.map((e) => e.context.principal?.id)).toEqual(['alice']);
    // bob may not use the inspector at all; nobody anonymous either.
    expect((await fetch(`${s.api}/inspector/events?after=0`, { headers: bearer('bob') })).status).toBe(403);
    expect((await fetch(`${s.api}/inspector/events?after=0`)).status).toBe(401);
  });

  it("lists and retries only the caller's tenant's dead letters, without the stack unless revealed", async () => {
    const s = await server(tenantSecurity, { inspector }, { listenerDefaults: { retries: 0 } });
    s.fete.on(topics.chat, 'fails', () => {
      throw new Error('handler broke');
    });
    await s.fete.start();
    await s.fete.emit(topics.chat, { room: 'r', n: 1 }, { tenant: 'acme' });
    await s.fete.emit(topics.chat, { room: 'r', n: 2 }, { tenant: 'globex' });
    await until(async () => (await s.fete.deadLetters()).length === 2, 'two dead letters');
    const all = await s.fete.deadLetters();
    const globexId = all.find((d) => d.envelope.headers.tenant === 'globex')!.id;
    const seen = (await (await fetch(`${s.api}/inspector/dead-letters`, { headers: bearer('alice') })).json()) as {
      deadLetters: Array<{ id: number; lastError: string; envelope: { payload: { n: number } } }>;
    };
    expect(seen.deadLetters.map((d) => d.envelope.payload.n)).toEqual([1]);
    expect(seen.deadLetters[0]!.lastError).toContain('handler broke');
    expect(seen.deadLetters[0]!.lastError).not.toContain('\n');
    const full = (await (await fetch(`${s.api}/inspector/dead-letters`, { headers: bearer('carol') })).json()) as { deadLetters: Array<{ lastError: string }> };
    expect(full.deadLetters[0]!.lastError).toContain('\n    at ');
    // Retrying another tenant's dead letter answers as if it did not exist, and changes nothing.
    const other = await fetch(`${s.api}/inspector/dead-letters/${globexId}/retry`, { method: 'POST', headers: bearer('alice') });
    expect(other.status).toBe(404);
    expect((await s.fete.deadLetters()).map((d) => d.id)).toContain(globexId);
    // Retry needs the inspector's authorization.
    expect((await fetch(`${s.api}/inspector/dead-letters/${seen.deadLetters[0]!.id}/retry`, { method: 'POST', headers: bearer('bob') })).status).toBe(403);
    expect((await fetch(`${s.api}/inspector/dead-letters/${seen.deadLetters[0]!.id}/retry`, { method: 'POST', headers: bearer('alice') })).status).toBe(200);
  });
});

describe('events leave by kind', () => {
  it('never sends domain or integration events to a browser over Socket.IO, live or replayed', async () => {
    const s = await server(tenantSecurity);
    await s.fete.emit(topics.order, { orderId: 'o1', n: 1 }, { tenant: 'acme' });
    await s.fete.emit(topics.ledger, { account: 'a', secret: 's' }, { tenant: 'acme' });
    await s.fete.emit(topics.chat, { room: 'r', n: 1 }, { tenant: 'acme' });
    const c = await socket(s, 'alice');
    expect(await c.sub('all', '>', 'earliest')).toMatchObject({ ok: true });
    await until(() => c.seqs('all').length === 1, 'replayed chat');
    await s.fete.emit(topics.order, { orderId: 'o2', n: 2 }, { tenant: 'acme' });
    await s.fete.emit(topics.notice, { room: 'r', n: 2 }, { tenant: 'acme' });
    await until(() => c.seqs('all').length === 2, 'live notice');
    expect(c.events.get('all')!.map((e) => e.topic)).toEqual([topics.chat.name, topics.notice.name]);
  });

  it('never sends domain or integration events to a browser over SSE, live or replayed', async () => {
    const s = await server(tenantSecurity);
    await s.fete.emit(topics.order, { orderId: 'o1', n: 1 }, { tenant: 'acme' });
    await s.fete.emit(topics.chat, { room: 'r', n: 1 }, { tenant: 'acme' });
    const sse = await collectSse(`${s.api}/stream?pattern=>&from=earliest`, bearer('alice'));
    streams.push(sse);
    expect(sse.status).toBe(200);
    await until(() => sse.events.length === 1, 'replayed chat');
    await s.fete.emit(topics.ledger, { account: 'a', secret: 'ledger-secret' }, { tenant: 'acme' });
    await s.fete.emit(topics.notice, { room: 'r', n: 2 }, { tenant: 'acme' });
    await until(() => sse.events.length === 2, 'live notice');
    expect(sse.events.map((e) => e.topic)).toEqual([topics.chat.name, topics.notice.name]);
    expect(sse.raw.join('')).not.toContain('ledger-secret');
  });

  it('refuses a subscription whose pattern matches no exposed topic, naming the topics it could match', async () => {
    const s = await server(tenantSecurity);
    const c = await socket(s, 'alice');
    const ack = await c.sub('o', 'orders.>');
    expect(ack).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(!ack.ok && ack.error.message).toContain('orders.{orderId}.placed (domain)');
    expect(await c.sub('x', 'nothing.here')).toMatchObject({ ok: false, error: { code: 'FORBIDDEN', message: expect.stringContaining('matches no topic') } });
    const res = await fetch(`${s.api}/stream?pattern=ledger.*`, { headers: bearer('alice') });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('ledger.{account} (integration)');
  });
});

describe('headers the server owns', () => {
  const W3C = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

  it('replaces a client traceparent that is not W3C (garbage, all-zero ids, upper case) and keeps a valid one', async () => {
    const s = await server(tenantSecurity);
    const sent = ['garbage', '00-00000000000000000000000000000000-b7ad6b7169203331-01', '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01', W3C.toUpperCase(), W3C];
    for (const [n, traceparent] of sent.entries()) {
      const res = await postEmit(s.api, { ...chat('r', n), headers: { traceparent } }, bearer('alice'));
      expect(res.json.results[0]).toMatchObject({ status: 'accepted' });
    }
    const { events } = await s.fete.log.read(0);
    const stored = events.map((e) => e.headers.traceparent!);
    for (const t of stored) expect(t).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/);
    expect(stored.slice(0, 4)).not.toContain('garbage');
    expect(stored.slice(0, 4).some((t) => t.includes('0000000000000000'))).toBe(false);
    expect(stored[4]).toBe(W3C);
  });

  it('passes other client headers through, within limits: too many, or a name or value too long, is TOO_LARGE', async () => {
    const s = await server(tenantSecurity);
    const ok = await postEmit(s.api, { ...chat('r', 1), headers: { 'x-source': 'web' } }, bearer('alice'));
    expect(ok.json.results[0]).toMatchObject({ status: 'accepted' });
    expect((await s.fete.log.read(0)).events[0]!.headers['x-source']).toBe('web');
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`h${i}`, 'v']));
    for (const headers of [many, { ['k'.repeat(65)]: 'v' }, { big: 'v'.repeat(1025) }]) {
      const res = await postEmit(s.api, { ...chat('r', 2), headers }, bearer('alice'));
      expect(res.json.results[0]).toMatchObject({ status: 'rejected', error: { code: 'TOO_LARGE' } });
    }
    expect(await s.fete.log.head()).toBe(1);
  });
});
