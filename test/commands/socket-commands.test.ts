// Commands from a real client over Socket.IO: typed results, authorization (deny by default),
// rejections with reasons, and a call whose socket dropped mid-call resent with its id and run once.
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, socketTransport, type Client } from '../../client/index.js';
import { isFeteError } from '../../shared/index.js';
import { gate } from '../support/wait.js';
import { RawClient, sharePGlite, startServer, until, type TestServer, topics } from '../realtime/support.js';
import { encodeValue, uuidv7 } from '../../shared/index.js';
import { IDBFactory } from 'fake-indexeddb';
import { createFakeLocks } from '../client/support/fake-locks.js';
import { commands } from './commands-fixtures.js';

sharePGlite();

const servers: TestServer[] = [];
const clients: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of servers.splice(0)) await s.close();
});

function client(url: string, auth?: Record<string, unknown>): Client<typeof topics> {
  const c = createClient({
    url,
    topics,
    outbox: 'memory',
    locks: null,
    broadcastChannel: null,
    ...(auth ? { auth } : {}),
    transport: socketTransport({ transports: ['websocket'], reconnectionDelay: 50, reconnectionDelayMax: 100 }),
  });
  clients.push(c);
  return c;
}

type User = { id: string; tenant: string; role: 'buyer' | 'guest' };

async function server(authorize = true) {
  const s = await startServer({
    auth: ({ credentials: a }) => ({ id: String(a.user), tenant: String(a.tenant ?? 't1'), role: a.user === 'guest' ? 'guest' : 'buyer' }) as User,
    // Command ids are per tenant: the fete's one tenant hook (security.tenant) says which.
    tenant: (p: User) => p.tenant,
    ...(authorize ? { authorize: { command: (p: User, name: string) => p.role === 'buyer' || name === 'orders.list' } } : {}),
  });
  servers.push(s);
  return s;
}

describe('commands over Socket.IO', () => {
  it('a browser command runs as its principal and returns the typed output, Dates included', async () => {
    const s = await server();
    let principal: unknown;
    s.fete.handle(commands.place, (input, ctx) => {
      principal = ctx.principal;
      return { orderId: `${input.sku}-1`, number: input.qty, at: new Date(0) };
    });
    const c = client(s.url, { user: 'ann', tenant: 'acme' });
    const out = await c.execute(commands.place, { sku: 'tea', qty: 2 });
    expect(out).toEqual({ orderId: 'tea-1', number: 2, at: new Date(0) });
    expect(out.at).toBeInstanceOf(Date);
    expect(principal).toEqual({ id: 'ann', tenant: 'acme', role: 'buyer' });
  });

  it("a command's recorded result is read by id over Socket.IO by the principal that ran it, whatever the door; another principal or tenant gets NOT_FOUND", async () => {
    const s = await server();
    let runs = 0;
    s.fete.handle(commands.place, (input, ctx) => {
      if (input.sku === 'none') ctx.reject('OUT_OF_STOCK', 'sold out');
      return { orderId: `${input.sku}-${++runs}`, number: input.qty, at: new Date(3) };
    });
    const id = uuidv7();
    const out = await client(s.url, { user: 'ann', tenant: 'acme' }).execute(commands.place, { sku: 'tea', qty: 2 }, { id });
    // Another client of ann's (another device: its outbox never saw the call) asks the server.
    const again = client(s.url, { user: 'ann', tenant: 'acme' });
    await expect(again.commandResult(commands.place, id)).resolves.toEqual(out);
    await expect(again.commandResult(id)).resolves.toEqual(out);
    // A command the server ran for ann (fete.execute) is hers too.
    const direct = uuidv7();
    const served = await s.fete.execute(commands.place, { sku: 'jam', qty: 1 }, { id: direct, principal: { id: 'ann', tenant: 'acme', role: 'buyer' } });
    await expect(again.commandResult(commands.place, direct)).resolves.toEqual(served);
    // A recorded rejection is answered as the rejection.
    const refused = uuidv7();
    await again.execute(commands.place, { sku: 'none', qty: 1 }, { id: refused }).catch(() => undefined);
    await expect(again.commandResult(commands.place, refused)).rejects.toMatchObject({ code: 'REJECTED', details: { reason: 'OUT_OF_STOCK' } });
    for (const auth of [{ user: 'bob', tenant: 'acme' }, { user: 'ann', tenant: 'globex' }]) {
      const err = await client(s.url, auth).commandResult(commands.place, id).catch((e: unknown) => e);
      expect(isFeteError(err, 'NOT_FOUND')).toBe(true);
      expect(String((err as Error).message)).not.toContain('tea');
    }
    // Given another command's declaration, the id is NOT_FOUND too; so is an id never run.
    await expect(again.commandResult(commands.noop, id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(again.commandResult(uuidv7())).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(runs).toBe(2);
  });

  it('without an authorize.command hook browser commands are FORBIDDEN and the handler never runs', async () => {
    const s = await server(false);
    let ran = false;
    s.fete.handle(commands.place, () => {
      ran = true;
      return { orderId: 'x', number: 1, at: new Date() };
    });
    const c = client(s.url, { user: 'ann' });
    const err = await c.execute(commands.place, { sku: 'tea', qty: 1 }).catch((e: unknown) => e);
    expect(isFeteError(err, 'FORBIDDEN')).toBe(true);
    expect(ran).toBe(false);
  });

  it('authorize.command is asked per command: a guest may query but not place orders', async () => {
    const s = await server();
    s.fete.handle(commands.place, () => ({ orderId: 'x', number: 1, at: new Date() }));
    s.fete.handle(commands.list, () => [{ orderId: 'o1', sku: 'tea' }]);
    const c = client(s.url, { user: 'guest' });
    await expect(c.query(commands.list, {})).resolves.toEqual([{ orderId: 'o1', sku: 'tea' }]);
    await expect(c.execute(commands.place, { sku: 'tea', qty: 1 })).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('a rejection reaches the browser as REJECTED with its reason; a bad input as INVALID_PAYLOAD; an unknown name as NO_HANDLER', async () => {
    const s = await server();
    s.fete.handle(commands.place, (_input, ctx) => ctx.reject('OUT_OF_STOCK', 'sold out'));
    const c = client(s.url, { user: 'ann' });
    const err = await c.execute(commands.place, { sku: 'tea', qty: 1 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'REJECTED', message: 'sold out', details: { reason: 'OUT_OF_STOCK' } });
    // A bad input is refused before it leaves the client; the server refuses it too.
    await expect(c.execute(commands.place, { sku: '', qty: 1 })).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
    await expect(c.execute(commands.noop, { n: 1 })).rejects.toMatchObject({ code: 'NO_HANDLER' });
  });

  it('an unexpected throw reaches the browser as INTERNAL without its message', async () => {
    const s = await server();
    s.fete.handle(commands.place, () => {
      throw new Error('password=hunter2');
    });
    const c = client(s.url, { user: 'ann' });
    const err = await c.execute(commands.place, { sku: 'tea', qty: 1 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INTERNAL', message: 'internal error' });
  });

  it('a command whose socket dropped mid-call is resent with its id after the reconnect, runs once and returns the first result', async () => {
    const s = await server();
    const started = gate();
    const release = gate();
    let calls = 0;
    const seen: string[] = [];
    s.fete.on(topics.orderPlaced, 'count', (p) => void seen.push(p.orderId));
    s.fete.handle(commands.place, async (input, ctx) => {
      calls++;
      await ctx.emit(topics.orderPlaced, { orderId: ctx.id, total: input.qty });
      started.open();
      await release.promise;
      return { orderId: ctx.id, number: calls, at: new Date(1) };
    });
    await s.fete.start();
    const c = client(s.url, { user: 'ann' });
    await until(() => c.status.connected, 'connected');
    const call = c.execute(commands.place, { sku: 'tea', qty: 1 });
    await started.promise;
    // Drop the connection under the call: its ack can no longer arrive.
    for (const socket of s.fanout.io.of('/fete').sockets.values()) socket.conn.close();
    await until(() => !c.status.connected, 'disconnected');
    await until(() => c.status.connected, 'reconnected');
    release.open();
    const out = await call;
    expect(calls).toBe(1);
    expect(out.number).toBe(1);
    await until(() => seen.length === 1, 'the event');
    expect(seen).toEqual([out.orderId]);
  });

  it('a command queued in the outbox while offline runs once after the connection is back', async () => {
    const s = await server();
    let calls = 0;
    s.fete.handle(commands.place, (input) => ({ orderId: `q${++calls}`, number: input.qty, at: new Date(2) }));
    const c = client(s.url, { user: 'ann' });
    await until(() => c.status.connected, 'connected');
    s.fanout.io.of('/fete').disconnectSockets(true);
    await until(() => !c.status.connected, 'disconnected');
    const receipt = await c.execute(commands.place, { sku: 'tea', qty: 3 }, { queue: true });
    const out = await receipt.result;
    expect(out).toEqual({ orderId: 'q1', number: 3, at: new Date(2) });
    await expect(c.commandResult(commands.place, receipt.id)).resolves.toEqual(out);
    expect(calls).toBe(1);
  });

  it('malformed cmd packets are answered with a code, never crash the server, and the socket keeps working', async () => {
    const s = await server();
    let calls = 0;
    s.fete.handle(commands.place, () => ({ orderId: 'x', number: ++calls, at: new Date(0) }));
    const raw = new RawClient(s.url, { user: 'ann' });
    try {
      await raw.connected();
      const send = (packet: unknown) => raw.socket.timeout(10_000).emitWithAck('cmd', packet) as Promise<{ ok: boolean; error?: { code: string } }>;
      const big = encodeValue({ sku: 'x'.repeat(2 * 1024 * 1024), qty: 1 });
      const cases: Array<[unknown, string]> = [
        [null, 'MALFORMED'],
        ['cmd', 'MALFORMED'],
        [{ id: uuidv7(), name: 42, input: encodeValue({}) }, 'MALFORMED'],
        [{ id: 'nope', name: 'orders.place', input: encodeValue({ sku: 'a', qty: 1 }) }, 'MALFORMED'],
        [{ id: uuidv7(), name: 'orders.place', input: 123 }, 'MALFORMED'],
        [{ id: uuidv7(), name: 'orders.place', input: '{"json":{"__proto__":{"x":1}}}' }, 'FORBIDDEN_KEY'],
        [{ id: uuidv7(), name: 'orders.place', input: big }, 'TOO_LARGE'],
        [{ id: uuidv7(), name: 'orders.place', input: encodeValue({ sku: 'a', qty: 'many' }) }, 'INVALID_PAYLOAD'],
        [{ id: uuidv7(), name: 'x'.repeat(10_000), input: encodeValue({}) }, 'NO_HANDLER'],
      ];
      for (const [packet, code] of cases) expect((await send(packet)).error?.code, JSON.stringify(packet)?.slice(0, 80)).toBe(code);
      expect(calls).toBe(0);
      const ok = await send({ id: uuidv7(), name: 'orders.place', input: encodeValue({ sku: 'a', qty: 1 }) });
      expect(ok.ok).toBe(true);
      expect(calls).toBe(1);
    } finally {
      raw.close();
    }
  });

  it('a command queued by a tab that does not lead is sent by the leader tab, and both tabs can read its result by id', async () => {
    const s = await server();
    let calls = 0;
    s.fete.handle(commands.place, (input) => ({ orderId: `t${++calls}`, number: input.qty, at: new Date(3) }));
    const shared = { indexedDB: new IDBFactory(), name: `tabs-${uuidv7()}`, locks: createFakeLocks(), pollIntervalMs: 50 };
    const tab = (label: string) => {
      const c = createClient({
        url: s.url,
        topics,
        ...shared,
        auth: { user: label },
        transport: socketTransport({ transports: ['websocket'], reconnectionDelay: 50, reconnectionDelayMax: 100 }),
      });
      clients.push(c);
      return c;
    };
    const leader = tab('ann');
    await until(() => leader.status.leader && leader.status.connected, 'the first tab leads');
    const follower = tab('ann');
    await until(() => follower.status.connected, 'the second tab connects');
    expect(follower.status.leader).toBe(false);
    const receipt = await follower.execute(commands.place, { sku: 'tea', qty: 5 }, { queue: true });
    const out = await receipt.result;
    expect(out).toEqual({ orderId: 't1', number: 5, at: new Date(3) });
    await expect(leader.commandResult(commands.place, receipt.id)).resolves.toEqual(out);
    await expect(follower.commandResult(commands.place, receipt.id)).resolves.toEqual(out);
    await expect(leader.commandResult(commands.place, uuidv7())).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(calls).toBe(1);
  });
});
