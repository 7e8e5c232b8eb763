// The server-side principal never reaches a browser. An event's context holds what `auth` returned
// (recorded when a client emits, or by `runAs` on the server) and the app's context codecs' values;
// the fanout (live and replayed over Socket.IO) and the SSE stream send the envelope without it.
// The `actor` header, which names who acted, still goes out.
import { createServer } from 'node:http';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { type AuthRequest, runAs } from '../../server/index.js';
import { createEnvelope, decodeEnvelope, encodeEnvelope } from '../../shared/index.js';
import { RawClient, sharePGlite, startServer, topics, until, type TestServer } from '../realtime/support.js';
import { closeHttp, listen } from '../support/http-server.js';
import { closedAfterEach } from '../support/closed-after-each.js';

sharePGlite();

const SECRET = 'tok_9f8e7d6c5b4a';
const alice = { id: 'alice', tenant: 't1', apiToken: SECRET, roles: ['admin'] };
const auth = ({ credentials }: AuthRequest) => (credentials.token === 'alice' ? alice : undefined);
const authorize = { emit: () => true, subscribe: () => true };

const servers = closedAfterEach<TestServer>();
const raws = closedAfterEach<RawClient>();
const https = closedAfterEach<{ close(): Promise<void> }>();

async function setup(): Promise<{ s: TestServer; c: RawClient; rawTexts: string[] }> {
  const s = await startServer({ auth, authorize });
  servers.push(s);
  const c = new RawClient(s.url, { token: 'alice' });
  raws.push(c);
  await c.connected();
  // Each event as it came off the wire (`ev`, or one of an `evs`), as JSON, before any decoding.
  const rawTexts: string[] = [];
  c.socket.on('ev', (p: { e: unknown }) => rawTexts.push(JSON.stringify(p.e)));
  c.socket.on('evs', (p: { es: unknown[] }) => rawTexts.push(...p.es.map((e) => JSON.stringify(e))));
  return { s, c, rawTexts };
}

describe('the principal is stripped from envelopes sent to browsers', () => {
  it('over Socket.IO, live: a client emit and a server emit under runAs carry the principal in the log, not on the wire', async () => {
    const { s, c, rawTexts } = await setup();
    expect((await c.sub('m', 'tenants.>')).ok).toBe(true);
    const env = createEnvelope(topics.tenantMsg, { tenant: 't1', room: 'r', text: 'from the browser' });
    expect(await c.emit([encodeEnvelope(env)])).toMatchObject({ ok: true, results: [{ status: 'accepted' }] });
    await runAs(alice, () => s.fete.emit(topics.tenantMsg, { tenant: 't1', room: 'r', text: 'from the server' }));
    await until(() => c.seqs('m').length === 2);

    // The log keeps the principal for listeners.
    const { events } = await s.fete.log.read(0);
    expect(events.map((e) => e.context.principal)).toEqual([alice, alice]);
    // The wire does not.
    for (const e of c.events.get('m')!) {
      expect(e.context).toEqual({});
      expect(e.headers.actor).toBe('alice');
    }
    expect(rawTexts).toHaveLength(2);
    for (const text of rawTexts) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain('principal');
    }
  });

  it('over Socket.IO, replayed from a cursor: history from the log goes out without the principal too', async () => {
    const { s, c, rawTexts } = await setup();
    for (let i = 0; i < 5; i++) await runAs(alice, () => s.fete.emit(topics.tick, { n: i }));
    expect(await c.sub('h', 'ticks.*', 0)).toEqual({ ok: true, cursor: 0, epoch: expect.any(String) });
    await until(() => c.seqs('h').length === 5);
    expect(c.events.get('h')!.every((e) => Object.keys(e.context).length === 0)).toBe(true);
    expect(rawTexts).toHaveLength(5);
    expect(rawTexts.some((t) => t.includes(SECRET))).toBe(false);
    expect((await s.fete.log.read(0)).events.every((e) => e.context.principal !== undefined)).toBe(true);
  });

  it('over the SSE stream: data lines carry the envelope without the principal', async () => {
    const s = await startServer();
    servers.push(s);
    const app = express();
    app.use('/fete', s.fete.express());
    const http = createServer(app);
    const url = await listen(http);
    https.push({ close: () => closeHttp(http) });
    await runAs(alice, () => s.fete.emit(topics.orderStatus, { orderId: 'o1', status: 'paid' }));
    const res = await fetch(`${url}/fete/stream?pattern=orders.>&from=0`);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!text.includes('\ndata: ')) text += (await reader.read()).value ?? '';
    while (!/\ndata: [^\n]*\n/.test(text)) text += (await reader.read()).value ?? '';
    await reader.cancel();
    const data = /\ndata: ([^\n]*)\n/.exec(text)![1]!;
    expect(data).not.toContain(SECRET);
    const envelope = decodeEnvelope(data);
    expect(envelope).toMatchObject({ subject: 'orders.o1.status', context: {}, headers: { actor: 'alice' } });
  });
});
