// GET /health, GET /metrics and the inspector API: what an operator or the playground panel sees,
// including a dead letter that shows up in metrics and the inspector and runs again after a retry.
import type { AddressInfo } from 'node:net';
import { io as ioClient } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { FETE_NAMESPACE } from '../../shared/index.js';
import { escapeLabelValue, renderPrometheus } from '../../server/http/prometheus-text.js';
import { gate, waitFor } from '../support/wait.js';
import { postJson, startServer, testAuth, topics } from './http-harness.js';

/** Every line of the Prometheus text format: HELP, TYPE or a sample with escaped label values. */
const PROMETHEUS_LINE =
  /^(# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (gauge|counter)|[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\})? (-?[0-9.e+]+|NaN|[+-]Inf))$/;

describe('GET /health', () => {
  it('answers 200 ok with the head seq while the store answers, and 503 once fete is stopped', async () => {
    const { url, fete } = await startServer();
    await fete.start();
    await fete.emit(topics.orderCreated, { orderId: 'o1', total: 1 });
    const ok = await fetch(`${url}/health`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ status: 'ok', headSeq: 1, store: { reachable: true, latencyMs: expect.any(Number) } });
    await fete.stop();
    const down = await fetch(`${url}/health`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: 'unavailable', error: { code: expect.any(String) }, store: { reachable: false } });
  });

  it('reports not started (503) with an idle dispatcher before start() and ok with it running after, the listeners, the backlog and attempt outcomes', async () => {
    const { url, fete } = await startServer();
    fete.on(topics.orderCreated, 'ok', () => undefined);
    fete.on(topics.audit, 'not durable', () => undefined, { durable: false });
    await fete.emit(topics.orderCreated, { orderId: 'o1', total: 1 });
    await fete.emit(topics.orderCreated, { orderId: 'o2', total: 2 });
    const beforeRes = await fetch(`${url}/health`);
    expect(beforeRes.status).toBe(503);
    const before = await beforeRes.json();
    expect(before).toMatchObject({
      status: 'not started',
      headSeq: 2,
      worker: {
        started: false,
        dispatcher: 'idle',
        listeners: 2,
        durableListeners: 1,
        backlog: { pending: 2, running: 0, retrying: 0, dead: 0 },
        outcomes: { completed: 0, retried: 0, dead: 0 },
      },
    });
    await fete.start();
    await waitFor(async () => (await fete.stats()).listeners.every((l) => l.pending + l.running === 0), { what: 'backlog drained' });
    await waitFor(() => fete.workerStatus().outcomes.completed === 2, { what: 'completions counted' });
    const after = await (await fetch(`${url}/health`)).json();
    expect(after).toMatchObject({
      status: 'ok',
      worker: { started: true, dispatcher: 'running', backlog: { pending: 0, running: 0, retrying: 0, dead: 0 }, outcomes: { completed: 2, retried: 0, dead: 0 } },
    });
  });

  it('answers 503 stopping while the dispatcher drains, so a load balancer takes the process out', async () => {
    const { url, fete } = await startServer();
    const entered = gate();
    const release = gate();
    fete.on(topics.orderCreated, 'slow', async () => {
      entered.open();
      await release.promise;
    });
    await fete.start();
    await fete.emit(topics.orderCreated, { orderId: 'o1', total: 1 });
    await entered.promise;
    const stopped = fete.stop();
    await waitFor(() => fete.workerStatus().dispatcher === 'stopping', { what: 'stopping' });
    const res = await fetch(`${url}/health`);
    const body = await res.json();
    release.open();
    await stopped;
    // Once stopped the store is closed: 'unavailable' (the test before this one).
    expect(res.status === 503 && (body.status === 'stopping' || body.status === 'unavailable')).toBe(true);
    expect(body.worker.dispatcher).toBe('stopping');
  });
});

describe('GET /metrics', () => {
  it('serves Prometheus text that reflects queue depths, a dead letter, the head seq and HTTP emits', async () => {
    const { url, fete } = await startServer({ metrics: 'public' });
    fete.on(topics.orderCreated, 'always "fails"\\', () => {
      throw new Error('boom');
    }, { retries: 0 });
    await fete.start();
    await postJson(`${url}/emit`, { topic: 'orders.{orderId}.created', payload: { orderId: 'o1', total: 1 } });
    await waitFor(async () => (await fete.deadLetters()).length === 1, { what: 'dead letter' });
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const lines = text.trimEnd().split('\n');
    for (const line of lines) expect(line).toMatch(PROMETHEUS_LINE);
    expect(lines).toContain('fete_listener_deliveries{target="orders.{orderId}.created",listener="always \\"fails\\"\\\\",durable="true",state="dead"} 1');
    expect(lines).toContain('fete_topic_deliveries{topic="orders.{orderId}.created",state="dead"} 1');
    expect(lines).toContain('fete_log_head_seq 1');
    expect(lines).toContain('fete_http_emits_total{outcome="accepted"} 1');
    expect(lines).toContain('# TYPE fete_listener_deliveries gauge');
  });

  it('counts attempt outcomes per listener and in total: completed, retried, dead; and the dispatcher state', async () => {
    const { url, fete } = await startServer({ metrics: 'public' });
    let calls = 0;
    fete.on(topics.orderCreated, 'flaky', () => {
      if (++calls === 1) throw new Error('first attempt fails');
    }, { retries: 3 });
    fete.on(topics.orderCreated, 'doomed', () => {
      throw new Error('always');
    }, { retries: 0 });
    await fete.start();
    await fete.emit(topics.orderCreated, { orderId: 'o1', total: 1 });
    await waitFor(() => {
      const w = fete.workerStatus().outcomes;
      return w.completed === 1 && w.retried === 1 && w.dead === 1;
    }, { what: 'outcomes' });
    const lines = (await (await fetch(`${url}/metrics`)).text()).trimEnd().split('\n');
    for (const line of lines) expect(line).toMatch(PROMETHEUS_LINE);
    const target = 'orders.{orderId}.created';
    expect(lines).toContain(`fete_listener_attempts_total{target="${target}",listener="flaky",durable="true",outcome="completed"} 1`);
    expect(lines).toContain(`fete_listener_attempts_total{target="${target}",listener="flaky",durable="true",outcome="retried"} 1`);
    expect(lines).toContain(`fete_listener_attempts_total{target="${target}",listener="doomed",durable="true",outcome="dead"} 1`);
    expect(lines).toContain(`fete_listener_attempts_total{target="${target}",listener="doomed",durable="true",outcome="completed"} 0`);
    expect(lines).toContain('fete_attempts_total{outcome="completed"} 1');
    expect(lines).toContain('fete_attempts_total{outcome="retried"} 1');
    expect(lines).toContain('fete_attempts_total{outcome="dead"} 1');
    expect(lines).toContain('fete_dispatcher_state{state="running"} 1');
    expect(lines).toContain('fete_dispatcher_state{state="idle"} 0');
    expect(lines).toContain('# TYPE fete_attempts_total counter');
  });

  it('counts outcomes of non-durable listeners too', async () => {
    const { url, fete } = await startServer({ metrics: 'public' });
    fete.on(topics.audit, 'in memory', () => undefined, { durable: false });
    await fete.emit(topics.audit, { kind: 'k', msg: 'm' });
    await waitFor(() => fete.workerStatus().outcomes.completed === 1, { what: 'completed' });
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toContain('fete_listener_attempts_total{target="audit.{kind}",listener="in memory",durable="false",outcome="completed"} 1');
  });

  it('includes the Socket.IO fanout counters when fanoutStats is given', async () => {
    const fanout = { sockets: 3, subscriptions: 5, catchingUp: 0, eventsRouted: 10, eventsSent: 12, eventsSentPerSecond: 2.5, overflows: 0, retentionGaps: 0, volatileDropped: 0, refusedConnections: 1, emits: { accepted: 2, duplicate: 0, rejected: 1 }, tailCursor: 10 };
    const { url } = await startServer({ metrics: 'public', fanoutStats: () => fanout });
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toContain('\nfete_fanout_sockets 3\n');
    expect(text).toContain('\nfete_fanout_events_sent_total 12\n');
    expect(text).toContain('\nfete_fanout_events_sent_per_second 2.5\n');
    expect(text).toContain('\nfete_fanout_emits_total{outcome="rejected"} 1\n');
  });

  it("reports an attached Socket.IO fanout's connected sockets by default (fete.fanoutStats)", async () => {
    const { url, fete, server } = await startServer({ metrics: 'public' });
    const handle = fete.attach(server);
    const { port } = server.address() as AddressInfo;
    const socket = ioClient(`http://127.0.0.1:${port}${FETE_NAMESPACE}`, { transports: ['websocket'] });
    try {
      await waitFor(async () => (await (await fetch(`${url}/metrics`)).text()).includes('\nfete_fanout_sockets 1\n'), { what: 'socket counted' });
    } finally {
      socket.close();
      await handle.close();
    }
  });

  it('escapes backslashes, quotes and newlines in label values and help text', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    expect(renderPrometheus([{ name: 'm', help: 'x\ny', type: 'gauge', samples: [{ labels: { l: '"' }, value: 1 }] }])).toBe(
      '# HELP m x\\ny\n# TYPE m gauge\nm{l="\\""} 1\n',
    );
  });

  it('can be turned off (404) or guarded (403)', async () => {
    const off = await startServer({ metrics: false });
    expect((await fetch(`${off.url}/metrics`)).status).toBe(404);
    const guarded = await startServer({ metrics: { authorize: (_principal, req) => req.headers['x-ops'] === 'yes' } });
    expect((await fetch(`${guarded.url}/metrics`)).status).toBe(403);
    expect((await fetch(`${guarded.url}/metrics`, { headers: { 'x-ops': 'yes' } })).status).toBe(200);
  });
});

describe('the inspector API', () => {
  it('lists topics with kind, clientEmit, retention and params', async () => {
    const { url } = await startServer({ inspector: { authorize: () => true } });
    const res = await fetch(`${url}/inspector/topics`);
    expect(res.status).toBe(200);
    const { topics: listed } = (await res.json()) as { topics: Array<Record<string, unknown>> };
    expect(listed).toContainEqual({
      key: 'orderCreated',
      name: 'orders.{orderId}.created',
      kind: 'domain',
      clientEmit: true,
      expose: true,
      delivery: 'log',
      retention: null,
      params: ['orderId'],
      pattern: 'orders.*.created',
      hasSchema: true,
    });
    expect(listed.map((t) => t.kind)).toEqual(['domain', 'presentation', 'integration']);
  });

  it('lists a dead letter with its listener and stats, and a retry runs the listener again', async () => {
    const { url, fete } = await startServer({ inspector: { authorize: () => true } });
    let calls = 0;
    let healed = false;
    fete.on(topics.orderCreated, 'ledger', () => {
      calls++;
      if (!healed) throw new Error('ledger down');
    }, { retries: 0 });
    await fete.start();
    await fete.emit(topics.orderCreated, { orderId: 'o1', total: 1, at: new Date('2024-01-01T00:00:00Z') });
    await waitFor(async () => (await fete.deadLetters()).length === 1, { what: 'dead letter' });

    const stats = (await (await fetch(`${url}/inspector/stats`)).json()) as { headSeq: number; listeners: Array<{ name: string; dead: number }> };
    expect(stats.headSeq).toBe(1);
    expect(stats.listeners).toContainEqual(expect.objectContaining({ name: 'ledger', dead: 1 }));
    const { listeners } = (await (await fetch(`${url}/inspector/listeners`)).json()) as { listeners: Array<{ name: string }> };
    expect(listeners.map((l) => l.name)).toEqual(['ledger']);

    const dl = (await (await fetch(`${url}/inspector/dead-letters?listener=ledger&limit=10`)).json()) as {
      deadLetters: Array<{ id: number; lastError: string; envelope: { payload: { at: string } } }>;
    };
    expect(dl.deadLetters).toHaveLength(1);
    expect(dl.deadLetters[0]!.lastError).toContain('ledger down');
    expect(dl.deadLetters[0]!.envelope.payload.at).toBe('2024-01-01T00:00:00.000Z');

    healed = true;
    const retried = await fetch(`${url}/inspector/dead-letters/${dl.deadLetters[0]!.id}/retry`, { method: 'POST' });
    expect(retried.status).toBe(200);
    await waitFor(() => calls === 2, { what: 'second attempt' });
    await waitFor(async () => (await fete.deadLetters()).length === 0, { what: 'dead letter gone' });
    const again = await fetch(`${url}/inspector/dead-letters/${dl.deadLetters[0]!.id}/retry`, { method: 'POST' });
    expect(again.status).toBe(404);
    expect(await again.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });

  it('shows recent events, filtered by pattern and paged by after', async () => {
    const { url, fete } = await startServer({ inspector: { authorize: () => true } });
    for (let i = 0; i < 5; i++) await fete.emit(topics.orderCreated, { orderId: `o${i}`, total: i });
    await fete.emit(topics.audit, { kind: 'k', msg: 'm' });
    const recent = (await (await fetch(`${url}/inspector/events?limit=3`)).json()) as { events: Array<{ seq: number }>; cursor: number };
    expect(recent.events.map((e) => e.seq)).toEqual([4, 5, 6]);
    const audit = (await (await fetch(`${url}/inspector/events?pattern=audit.>&after=0`)).json()) as { events: Array<{ subject: string }> };
    expect(audit.events.map((e) => e.subject)).toEqual(['audit.k']);
    expect((await fetch(`${url}/inspector/events?limit=abc`)).status).toBe(400);
    expect((await fetch(`${url}/inspector/events?pattern=a..b`)).status).toBe(400);
    expect((await fetch(`${url}/inspector/dead-letters?after=-1`)).status).toBe(400);
  });

  it('is off (404) when inspector is false, and guarded (403) by inspector.authorize', async () => {
    const off = await startServer({ inspector: false });
    expect((await fetch(`${off.url}/inspector/topics`)).status).toBe(404);
    const guarded = await startServer({ inspector: { authorize: (_principal, req) => req.headers['x-ops'] === 'yes' } });
    expect((await fetch(`${guarded.url}/inspector/topics`)).status).toBe(403);
    expect((await fetch(`${guarded.url}/inspector/topics`, { headers: { 'x-ops': 'yes' } })).status).toBe(200);
  });
});
