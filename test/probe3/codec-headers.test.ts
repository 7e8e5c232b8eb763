// probe3: a context codec may carry its value in a header (`fete.contexts.register({ header })`),
// and listeners run with the value restored from it. Those headers are the server's to set, like
// `actor` and `tenant`. Before, only those two were dropped from a client's emit: a browser or HTTP
// caller that sent the header of an app's codec (`x-role: admin`) had its value restored as the
// app's context around every listener of its event.
import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import { postJson, startServer } from '../http/http-harness.js';
import { until } from '../realtime/support.js';

describe('headers that carry a context codec', () => {
  it("are never taken from a client's emit, whatever their case; the traceparent still is, in W3C form", async () => {
    const s = await startServer();
    const role = new AsyncLocalStorage<string>();
    s.fete.contexts.register({ name: 'role', header: 'x-role', capture: () => role.getStore(), restore: (v, run) => role.run(String(v), run) });
    const seen: Array<{ orderId: string; role: string | undefined; headers: Record<string, string> }> = [];
    s.fete.on(s.fete.topics.orderCreated, 'audit-role', (order, ctx) => void seen.push({ orderId: order.orderId, role: role.getStore(), headers: ctx.envelope.headers }), { durable: false });
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    for (const [orderId, headers] of [
      ['o1', { 'x-role': 'admin' }],
      ['o2', { 'X-Role': 'admin', traceparent }],
    ] as const) {
      const res = await postJson(`${s.url}/emit`, { topic: 'orders.{orderId}.created', payload: { orderId, total: 1 }, headers }, { 'x-user': 'mallory-2' });
      expect(res.status).toBe(200);
    }
    // Server code sets it: its emits carry the current role, as before.
    await role.run('clerk', () => s.fete.emit(s.fete.topics.orderCreated, { orderId: 'o3', total: 1 }));
    await until(() => seen.length === 3, 'the listener ran three times');
    const byId = Object.fromEntries(seen.map((e) => [e.orderId, e]));
    expect(byId.o1!.role).toBeUndefined();
    expect(byId.o2!.role).toBeUndefined();
    expect(Object.keys(byId.o1!.headers).map((k) => k.toLowerCase())).not.toContain('x-role');
    expect(Object.keys(byId.o2!.headers).map((k) => k.toLowerCase())).not.toContain('x-role');
    expect(byId.o2!.headers.traceparent?.split('-')[1]).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(byId.o3!.role).toBe('clerk');
  });
});
