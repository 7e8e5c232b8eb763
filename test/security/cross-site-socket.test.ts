// Cross-site WebSocket hijacking. `auth` gets the handshake's headers, so an app may sign users in
// by session cookie. A browser sends those cookies with a WebSocket handshake opened by any site's
// script (WebSockets have no CORS preflight; Socket.IO's `cors` option governs only long-polling
// responses), so a page on another site could run commands, emit and subscribe as the user. The
// socket door refuses a handshake from another origin unless `security.origins` allows it, or (the
// deprecated way, kept for older apps) `attach(http, { cors })` does (security/origin.ts); the HTTP
// door keeps the same rule (cross-site-http.test.ts).
import { createServer, type Server } from 'node:http';
import { io, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type Fete, createFete } from '../../server/index.js';
import { defineCommand, defineTopic, defineTopics, encodeValue, uuidv7 } from '../../shared/index.js';
import { closeHttp, listen } from '../support/http-server.js';
import { sharePGlite, sharedStore } from '../realtime/support.js';
import { freshSchema } from '../support/postgres.js';

const topics = defineTopics({ note: defineTopic('notes.{id}', { kind: 'presentation', schema: z.object({ id: z.string() }) }) });
const transfer = defineCommand('money.transfer', { input: z.object({ to: z.string() }), output: z.string() });

sharePGlite();
const opened: Array<{ fete: Fete<typeof topics>; http: Server; sockets: Socket[] }> = [];
afterEach(async () => {
  for (const o of opened.splice(0)) {
    for (const s of o.sockets) s.close();
    await o.fete.stop({ drain: false }).catch(() => undefined);
    await closeHttp(o.http);
  }
});

/** An app whose users sign in with a session cookie. */
async function cookieApp(cors?: { origin: string[] }) {
  const fete = await createFete({
    topics,
    // One PGlite for the file, a schema per fete: starting PGlite costs seconds, and these tests
    // are about the socket, not the store.
    store: sharedStore(),
    schema: freshSchema('xsite'),
    logger: false,
    security: {
      auth: ({ headers }) => (String(headers.cookie ?? '').includes('session=alice') ? { id: 'alice' } : undefined),
      authorize: { command: () => true },
    },
  });
  fete.handle(transfer, (input, ctx) => `${(ctx.principal as { id: string }).id} paid ${input.to}`);
  const http = createServer();
  fete.attach(http, cors ? { cors } : {});
  const base = await listen(http);
  const o = { fete, http, sockets: [] as Socket[] };
  opened.push(o);
  return {
    /** A WebSocket handshake as a browser sends it from a page of `origin`, with alice's cookie. */
    connect(origin: string, headers: Record<string, string> = {}): Promise<{ connected: true; socket: Socket } | { connected: false; error: string }> {
      const socket = io(`${base}/fete`, { transports: ['websocket'], reconnection: false, extraHeaders: { origin, cookie: 'session=alice', ...headers } });
      o.sockets.push(socket);
      return new Promise((resolve) => {
        socket.on('connect', () => resolve({ connected: true, socket }));
        socket.on('connect_error', (err) => resolve({ connected: false, error: err.message }));
      });
    },
    origin: base,
  };
}

describe('socket handshakes from other sites', () => {
  it('a page of the same origin connects with the session cookie and runs commands', async () => {
    const app = await cookieApp();
    const same = await app.connect(app.origin);
    expect(same.connected).toBe(true);
    if (!same.connected) return;
    const ack = await same.socket.timeout(5000).emitWithAck('cmd', { id: uuidv7(), name: 'money.transfer', input: encodeValue({ to: 'bob' }) });
    expect(ack).toMatchObject({ ok: true });
  });

  it("a page of another site cannot open a socket with the user's cookies", async () => {
    const app = await cookieApp();
    const evil = await app.connect('https://evil.example');
    if (evil.connected) {
      // What the hijack would do: pay with alice's session.
      await evil.socket.timeout(5000).emitWithAck('cmd', { id: uuidv7(), name: 'money.transfer', input: encodeValue({ to: 'mallory' }) });
    }
    expect(evil).toMatchObject({ connected: false, error: expect.stringContaining('cors') });
  });

  it('a page of an origin that attach({ cors }) allows connects; a proxy that forwards the host is the same origin', async () => {
    const app = await cookieApp({ origin: ['https://shop.example'] });
    expect((await app.connect('https://shop.example')).connected).toBe(true);
    expect((await app.connect('https://other.example')).connected).toBe(false);
    expect((await app.connect('https://api.example', { 'x-forwarded-host': 'api.example' })).connected).toBe(true);
  });

  it('a plain-http page of the same host cannot open a socket to the site served over TLS', async () => {
    const app = await cookieApp();
    const host = new URL(app.origin).host;
    // Behind a TLS proxy that says so: the https page connects, the http one (which anyone on the
    // network can write) is another origin.
    expect((await app.connect(`https://${host}`, { 'x-forwarded-proto': 'https' })).connected).toBe(true);
    expect(await app.connect(`http://${host}`, { 'x-forwarded-proto': 'https' })).toMatchObject({ connected: false });
    // A proxy that does not say: the scheme is unknown, the host decides (as before).
    expect((await app.connect(`https://${host}`)).connected).toBe(true);
  });
});
