// One rule for other sites at every browser door. A browser sends the user's cookies with any
// request a page of another site makes: an EventSource GET of /fete/stream on a presence subject
// would make the user present there, a GET /presence stream would spend their stream budget. So
// every route of `fete.express()`, like the Socket.IO handshake, refuses a request carrying the
// `Origin` of a site that `security.origins` does not allow (403 FORBIDDEN, before auth), and the
// one `security.origins` setting admits a site at both doors (security/origin.ts).
import { createServer, type Server } from 'node:http';
import express from 'express';
import { io, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type Fete, createFete } from '../../server/index.js';
import type { SecurityOptions } from '../../server/security/security-options.js';
import { FeteError, defineTopic, defineTopics } from '../../shared/index.js';
import { closeHttp, listen } from '../support/http-server.js';
import { sharePGlite, sharedStore } from '../realtime/support.js';
import { freshSchema } from '../support/postgres.js';
import { until } from '../support/wait.js';

const topics = defineTopics({
  chat: defineTopic('rooms.{room}.chat', { kind: 'presentation', presence: true, schema: z.object({ room: z.string(), text: z.string() }) }),
});

sharePGlite();
const opened: Array<{ fete: Fete<typeof topics>; http: Server; sockets: Socket[]; aborts: AbortController[] }> = [];
afterEach(async () => {
  for (const o of opened.splice(0)) {
    for (const a of o.aborts) a.abort();
    for (const s of o.sockets) s.close();
    await o.fete.stop({ drain: false }).catch(() => undefined);
    await closeHttp(o.http);
  }
});

/** Both doors of an app whose users sign in with a session cookie (`session=<user>`). */
async function cookieApp(origins?: SecurityOptions['origins']) {
  const warnings: Array<Record<string, unknown>> = [];
  const auths = { calls: 0 };
  const fete = await createFete({
    topics,
    store: sharedStore(),
    schema: freshSchema('xsitehttp'),
    logger: { info: () => undefined, warn: (fields) => void warnings.push(fields), error: () => undefined },
    presence: { heartbeatMs: 50, ttlMs: 300 },
    security: {
      auth: ({ headers }) => {
        auths.calls++;
        return /session=(\w+)/.exec(String(headers.cookie ?? ''))?.[1];
      },
      publicId: (user) => String(user),
      ...(origins === undefined ? {} : { origins }),
    },
  });
  const router = fete.express({ stream: { pollIntervalMs: 50, heartbeatMs: 1000 }, metrics: 'public', inspector: { authorize: () => true } });
  const http = createServer(express().use('/fete', router));
  fete.attach(http);
  const base = await listen(http);
  const o = { fete, http, sockets: [] as Socket[], aborts: [] as AbortController[] };
  opened.push(o);
  return {
    fete,
    base,
    warnings,
    auths,
    /** A request as alice's browser sends it from a page of `origin` (no Origin: undefined). */
    async request(path: string, origin: string | undefined, init: { method?: string; body?: string; accept?: string } = {}) {
      const abort = new AbortController();
      o.aborts.push(abort);
      const headers: Record<string, string> = { cookie: 'session=alice', accept: init.accept ?? 'application/json' };
      if (origin !== undefined) headers.origin = origin;
      if (init.body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${base}/fete${path}`, { method: init.method ?? 'GET', headers, body: init.body, signal: abort.signal });
      const streaming = res.headers.get('content-type')?.startsWith('text/event-stream') === true;
      const body = streaming ? undefined : ((await res.json().catch(() => undefined)) as { error?: { code: string; message: string } } | undefined);
      return { status: res.status, body, streaming, headers: res.headers };
    },
    /** A WebSocket handshake as alice's browser sends it from a page of `origin`. */
    connect(origin: string): Promise<boolean> {
      const socket = io(`${base}/fete`, { transports: ['websocket'], reconnection: false, extraHeaders: { origin, cookie: 'session=alice' } });
      o.sockets.push(socket);
      return new Promise((resolve) => {
        socket.on('connect', () => resolve(true));
        socket.on('connect_error', () => resolve(false));
      });
    },
  };
}

const PRESENCE_STREAM = `/stream?pattern=${encodeURIComponent('rooms.r1.chat')}`;

describe('requests from other sites at the HTTP door', () => {
  it("a cross-site EventSource GET of /stream on a presence subject is refused and makes nobody present; the same page of this site makes the user present", async () => {
    const app = await cookieApp();
    const evil = await app.request(PRESENCE_STREAM, 'https://evil.example', { accept: 'text/event-stream' });
    expect(evil.status).toBe(403);
    expect(evil.body?.error?.code).toBe('FORBIDDEN');
    expect(evil.body?.error?.message).toContain('security: { origins');
    expect(await app.fete.presence('rooms.r1.chat')).toEqual([]);
    expect(app.warnings[0]).toMatchObject({ event: 'refused-http', code: 'FORBIDDEN', method: 'GET', path: '/fete/stream' });

    const same = await app.request(PRESENCE_STREAM, app.base, { accept: 'text/event-stream' });
    expect(same).toMatchObject({ status: 200, streaming: true });
    await until(async () => (await app.fete.presence('rooms.r1.chat')).length === 1, 'alice present from her own page');
  });

  it("a cross-site <img>-like GET of /stream without Origin, which browsers mark Sec-Fetch-Site: cross-site, is refused and makes nobody present", async () => {
    const app = await cookieApp(['https://shop.example']);
    for (const site of ['cross-site', 'same-site']) {
      const res = await fetch(`${app.base}/fete${PRESENCE_STREAM}`, { headers: { cookie: 'session=alice', 'sec-fetch-site': site } });
      expect({ site, status: res.status, code: ((await res.json()) as { error: { code: string } }).error.code }).toEqual({ site, status: 403, code: 'FORBIDDEN' });
    }
    expect(await app.fete.presence('rooms.r1.chat')).toEqual([]);
    // Typed into the address bar, or fetched by the site itself: not another site's doing.
    for (const site of ['none', 'same-origin']) {
      const res = await fetch(`${app.base}/fete/metrics`, { headers: { cookie: 'session=alice', 'sec-fetch-site': site } });
      expect({ site, status: res.status }).toEqual({ site, status: 200 });
    }
  });

  it('every route and method refuses another site with 403 FORBIDDEN before auth runs, health, metrics and the inspector included; without Origin they answer as before', async () => {
    const app = await cookieApp();
    const routes: Array<[string, { method?: string; body?: string; accept?: string }]> = [
      [PRESENCE_STREAM, { accept: 'text/event-stream' }],
      [`/presence?pattern=${encodeURIComponent('rooms.*.chat')}`, {}],
      [`/presence?pattern=${encodeURIComponent('rooms.*.chat')}`, { accept: 'text/event-stream' }],
      ['/emit', { method: 'POST', body: '[]' }],
      ['/health', {}],
      ['/metrics', {}],
      ['/inspector/listeners', {}],
      ['/commands/results/0190b2a4-0000-7000-8000-000000000000', {}],
      ['/no-such-route', { method: 'DELETE' }],
    ];
    for (const [path, init] of routes) {
      const refused = await app.request(path, 'https://evil.example', init);
      expect({ path, status: refused.status, code: refused.body?.error?.code }).toEqual({ path, status: 403, code: 'FORBIDDEN' });
    }
    expect(await app.fete.presence('rooms.r1.chat')).toEqual([]);
    expect(app.auths.calls).toBe(0); // refused before auth judged the cookie
    expect((await app.request('/health', undefined)).status).not.toBe(403); // 503 here: the fete is not started
    expect((await app.request('/metrics', undefined)).status).toBe(200);
    expect(await app.request(PRESENCE_STREAM, undefined, { accept: 'text/event-stream' })).toMatchObject({ status: 200, streaming: true });
  });

  it('Origin: null (a sandboxed iframe, a file:// page) is another site at both doors', async () => {
    const app = await cookieApp(['https://shop.example']);
    const refused = await app.request(PRESENCE_STREAM, 'null', { accept: 'text/event-stream' });
    expect({ status: refused.status, code: refused.body?.error?.code }).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(await app.connect('null')).toBe(false);
    expect(await app.fete.presence('rooms.r1.chat')).toEqual([]);
  });

  it('a plain-http page of a site served over TLS is another origin over HTTP too', async () => {
    const app = await cookieApp();
    const host = new URL(app.base).host;
    const plain = await fetch(`${app.base}/fete/metrics`, { headers: { origin: `http://${host}`, 'x-forwarded-proto': 'https' } });
    expect(plain.status).toBe(403);
    const tls = await fetch(`${app.base}/fete/metrics`, { headers: { origin: `https://${host}`, 'x-forwarded-proto': 'https' } });
    expect(tls.status).toBe(200);
  });
});

describe('security.origins: one setting for both doors', () => {
  it('an origin in security.origins passes the HTTP door and the socket handshake; another does not pass either', async () => {
    const app = await cookieApp(['https://shop.example']);
    expect(await app.request(PRESENCE_STREAM, 'https://shop.example', { accept: 'text/event-stream' })).toMatchObject({ status: 200, streaming: true });
    await until(async () => (await app.fete.presence('rooms.r1.chat')).length === 1, 'alice present from the allowed site');
    expect(await app.connect('https://shop.example')).toBe(true);
    // Scheme and port are part of the origin; the default port is the same origin.
    expect(await app.connect('https://shop.example:443')).toBe(true);
    expect((await app.request('/health', 'http://shop.example')).status).toBe(403);
    expect(await app.connect('https://shop.example:8443')).toBe(false);
    expect((await app.request('/health', 'https://other.example')).status).toBe(403);
    expect(await app.connect('https://other.example')).toBe(false);
  });

  it("security.origins also answers Socket.IO's CORS requests, so an allowed page can long-poll with cookies", async () => {
    const app = await cookieApp(['https://shop.example']);
    const allowed = await fetch(`${app.base}/socket.io/?EIO=4&transport=polling`, { headers: { origin: 'https://shop.example' } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
    const other = await fetch(`${app.base}/socket.io/?EIO=4&transport=polling`, { headers: { origin: 'https://other.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('RegExps match the normalized origin, and a predicate decides alone, Origin: null included; a throwing predicate refuses', async () => {
    const regex = await cookieApp([/^https:\/\/[a-z]+\.shop\.example$/g]);
    expect((await regex.request('/metrics', 'https://eu.shop.example')).status).toBe(200);
    expect((await regex.request('/metrics', 'https://eu.shop.example')).status).toBe(200); // no lastIndex state
    expect((await regex.request('/metrics', 'https://eu.shop.example.evil.example')).status).toBe(403);
    const predicate = await cookieApp((origin) => {
      if (origin === 'https://boom.example') throw new Error('boom');
      return origin === 'null';
    });
    expect((await predicate.request('/metrics', 'null')).status).toBe(200);
    expect(await predicate.connect('null')).toBe(true);
    expect((await predicate.request('/metrics', 'https://boom.example')).status).toBe(403);
  });

  it('an origins value that is not a list of origins, RegExps or a predicate is refused at createFete with INVALID_OPTIONS', async () => {
    for (const origins of ['https://shop.example', ['https://shop.example/app'], ['*'], ['null'], ['shop.example'], [42], { origin: 'x' }]) {
      const made = createFete({ topics, store: sharedStore(), schema: freshSchema('xsitebad'), logger: false, security: { auth: 'anonymous', origins: origins as never } });
      await expect(made).rejects.toSatisfy((e) => e instanceof FeteError && e.code === 'INVALID_OPTIONS');
    }
  });
});
