// Commands and queries over HTTP (fete.express()): the same authorize.command and exactly-once
// rules as the socket, errors as { error: { code, message, reason? } } with the code's status.
import { describe, expect, it } from 'vitest';
import { uuidv7 } from '../../shared/index.js';
import { postJson, startServer, testAuth } from '../http/http-harness.js';
import { commands } from './commands-fixtures.js';

const authorize = { ...testAuth.authorize, command: (user: string, name: string) => user !== 'mallory' || name === 'orders.list' };

describe('commands over HTTP', () => {
  it('POST /commands/:name runs the command once per id and answers the first result again', async () => {
    const s = await startServer({ security: { ...testAuth, authorize } });
    let calls = 0;
    s.fete.handle(commands.place, (input, ctx) => ({ orderId: `${ctx.principal as string}-${++calls}`, number: input.qty, at: new Date(5) }));
    const id = uuidv7();
    const first = await postJson(`${s.url}/commands/orders.place`, { id, input: { sku: 'tea', qty: 2 } }, { 'x-user': 'ann' });
    expect(first.status).toBe(200);
    const body = await first.json();
    expect(body).toEqual({ id, result: { orderId: 'ann-1', number: 2, at: new Date(5).toISOString() }, meta: { values: { at: ['Date'] }, v: 1 } });
    const again = await postJson(`${s.url}/commands/orders.place`, { input: { sku: 'tea', qty: 2 } }, { 'x-user': 'ann', 'idempotency-key': id });
    expect(await again.json()).toEqual(body);
    expect(calls).toBe(1);
  });

  it('GET /commands/results/:id answers the recorded result to the principal that ran the command, 404 NOT_FOUND to any other', async () => {
    const s = await startServer({ security: { ...testAuth, authorize } });
    s.fete.handle(commands.place, (input, ctx) => {
      if (input.sku === 'none') ctx.reject('OUT_OF_STOCK', 'sold out');
      return { orderId: 'o-7', number: input.qty, at: new Date(5) };
    });
    const id = uuidv7();
    expect((await postJson(`${s.url}/commands/orders.place`, { id, input: { sku: 'tea', qty: 2 } }, { 'x-user': 'ann' })).status).toBe(200);
    const mine = await fetch(`${s.url}/commands/results/${id}`, { headers: { 'x-user': 'ann' } });
    expect(mine.status).toBe(200);
    expect(await mine.json()).toEqual({ id, name: 'orders.place', result: { orderId: 'o-7', number: 2, at: new Date(5).toISOString() }, meta: { values: { at: ['Date'] }, v: 1 } });
    const named = await fetch(`${s.url}/commands/results/${id}?name=orders.place`, { headers: { 'x-user': 'ann' } });
    expect(named.status).toBe(200);
    for (const [user, url] of [['bob', `${s.url}/commands/results/${id}`], ['ann', `${s.url}/commands/results/${id}?name=bench.noop`], ['ann', `${s.url}/commands/results/${uuidv7()}`]] as const) {
      const res = await fetch(url, { headers: { 'x-user': user } });
      expect(res.status).toBe(404);
      const body = (await res.json()) as { error: { code: string }; result?: unknown };
      expect(body.error.code).toBe('NOT_FOUND');
      expect(body.result).toBeUndefined();
    }
    expect((await fetch(`${s.url}/commands/results/not-a-uuid`, { headers: { 'x-user': 'ann' } })).status).toBe(400);
    expect((await fetch(`${s.url}/commands/results/${id}`, { headers: { 'x-user': 'nobody' } })).status).toBe(401);
    const refused = uuidv7();
    await postJson(`${s.url}/commands/orders.place`, { id: refused, input: { sku: 'none', qty: 1 } }, { 'x-user': 'ann' });
    const rejection = await fetch(`${s.url}/commands/results/${refused}`, { headers: { 'x-user': 'ann' } });
    expect(rejection.status).toBe(422);
    expect(await rejection.json()).toMatchObject({ error: { code: 'REJECTED', reason: 'OUT_OF_STOCK' } });
  });

  it('GET and POST /queries/:name answer queries; commands are refused per principal by authorize.command', async () => {
    const s = await startServer({ security: { ...testAuth, authorize } });
    s.fete.handle(commands.place, () => ({ orderId: 'x', number: 1, at: new Date() }));
    s.fete.handle(commands.list, (input) => [{ orderId: 'o1', sku: input.sku ?? 'any' }]);
    const got = await fetch(`${s.url}/queries/orders.list?input=${encodeURIComponent(JSON.stringify({ sku: 'tea' }))}`, { headers: { 'x-user': 'mallory' } });
    expect(await got.json()).toEqual({ result: [{ orderId: 'o1', sku: 'tea' }] });
    const posted = await postJson(`${s.url}/queries/orders.list`, { input: {} }, { 'x-user': 'mallory' });
    expect(await posted.json()).toEqual({ result: [{ orderId: 'o1', sku: 'any' }] });
    const denied = await postJson(`${s.url}/commands/orders.place`, { id: uuidv7(), input: { sku: 'tea', qty: 1 } }, { 'x-user': 'mallory' });
    expect(denied.status).toBe(403);
    expect((await denied.json()).error.code).toBe('FORBIDDEN');
  });

  it('without authorize.command every HTTP command is FORBIDDEN', async () => {
    const s = await startServer({ security: { ...testAuth } });
    s.fete.handle(commands.place, () => ({ orderId: 'x', number: 1, at: new Date() }));
    const res = await postJson(`${s.url}/commands/orders.place`, { id: uuidv7(), input: { sku: 'tea', qty: 1 } }, { 'x-user': 'ann' });
    expect(res.status).toBe(403);
  });

  it('a rejection is 422 with its reason, a bad input 400, an unknown command 503 NO_HANDLER, a bad id 400, prototype keys 400', async () => {
    const s = await startServer({ security: { ...testAuth, authorize } });
    s.fete.handle(commands.place, (_i, ctx) => ctx.reject('OUT_OF_STOCK', 'sold out'));
    const url = `${s.url}/commands/orders.place`;
    const h = { 'x-user': 'ann' };
    const rejected = await postJson(url, { id: uuidv7(), input: { sku: 'tea', qty: 1 } }, h);
    expect(rejected.status).toBe(422);
    expect(await rejected.json()).toEqual({ error: { code: 'REJECTED', message: 'sold out', reason: 'OUT_OF_STOCK' } });
    expect((await postJson(url, { id: uuidv7(), input: { sku: 'tea', qty: -1 } }, h)).status).toBe(400);
    expect((await postJson(`${s.url}/commands/nope.nope`, { id: uuidv7(), input: {} }, h)).status).toBe(503);
    expect((await postJson(url, { id: 'not-a-uuid', input: { sku: 'tea', qty: 1 } }, h)).status).toBe(400);
    const polluted = await fetch(url, { method: 'POST', headers: { ...h, 'content-type': 'application/json' }, body: `{"id":"${uuidv7()}","input":{"__proto__":{"x":1}}}` });
    expect(polluted.status).toBe(400);
  });

  it('/metrics counts commands by name and outcome, and the inspector lists owners and recent failures', async () => {
    const s = await startServer({ security: { ...testAuth, authorize }, metrics: 'public', inspector: { authorize: () => true } });
    s.fete.handle(commands.place, (_i, ctx) => ctx.reject('OUT_OF_STOCK'));
    await postJson(`${s.url}/commands/orders.place`, { id: uuidv7(), input: { sku: 'tea', qty: 1 } }, { 'x-user': 'ann' });
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toContain('fete_requests_total{kind="command",name="orders.place",outcome="rejected"} 1');
    const inspector = await (await fetch(`${s.url}/inspector/commands`, { headers: { 'x-user': 'ann' } })).json();
    expect(inspector.commands).toEqual([{ name: 'orders.place', kind: 'command', roles: null, runsHere: true, timeoutMs: 30_000 }]);
    expect(inspector.failures[0]).toMatchObject({ name: 'orders.place', outcome: 'rejected', reason: 'OUT_OF_STOCK' });
  });
});
