// The security suites' harness: one fete with both doors (Socket.IO via `attach`, HTTP via
// `express`) on one real HTTP server, a catalogue with exposed and unexposed topics, principals
// in three tenants (and one without), and small readers for SSE and HTTP. PGlite in memory.
import { createServer, type Server as HttpServer } from 'node:http';
import express from 'express';
import { z } from 'zod';
import { freshSchema } from '../../support/postgres.js';
import { sharePGlite, sharedStore } from '../../realtime/support.js';
import { createFete, type ExpressOptions, type Fete, type FeteRouter, type SecurityOptions } from '../../../server/index.js';
import type { FeteOptions } from '../../../server/options.js';
import { type Envelope, decodeEnvelope, defineTopic, defineTopics } from '../../../shared/index.js';
import { readSseBlocks } from '../../support/sse-blocks.js';
import { closeHttp, listen } from '../../support/http-server.js';

export const topics = defineTopics({
  /** Presentation: always exposed, server emits only. */
  notice: defineTopic('notices.{room}', { kind: 'presentation', schema: z.object({ room: z.string(), n: z.number() }) }),
  /** Domain, emitted by browsers and declared safe to show. */
  chat: defineTopic('chats.{room}', { kind: 'domain', clientEmit: true, expose: true, schema: z.object({ room: z.string(), n: z.number() }) }),
  /** Domain, emitted by browsers, never shown to them (server facts). */
  order: defineTopic('orders.{orderId}.placed', { kind: 'domain', clientEmit: true, schema: z.object({ orderId: z.string(), n: z.number() }) }),
  /** Integration: never leaves for a browser. */
  ledger: defineTopic('ledger.{account}', { kind: 'integration', schema: z.object({ account: z.string(), secret: z.string() }) }),
});
export type Topics = typeof topics;

export interface User {
  id: string;
  /** undefined: the default tenant. */
  tenant: string | undefined;
  secret: string;
}
export const users = {
  alice: { id: 'alice', tenant: 'acme', secret: 'alice-secret-token' },
  carol: { id: 'carol', tenant: 'acme', secret: 'carol-secret-token' },
  bob: { id: 'bob', tenant: 'globex', secret: 'bob-secret-token' },
  erin: { id: 'erin', tenant: 'initech', secret: 'erin-secret-token' },
  dave: { id: 'dave', tenant: undefined, secret: 'dave-secret-token' },
} satisfies Record<string, User>;
const byName: Record<string, User> = users;
/** The tenant every read by `name` is scoped to ('' is the default tenant). */
export const tenantOfUser = (name: string): string => byName[name]!.tenant ?? '';

/** Tokens are user names, on both doors (`auth: { token }` on sockets, a Bearer header over HTTP). */
export const tenantSecurity: SecurityOptions<User> = {
  auth: ({ credentials }) => (typeof credentials.token === 'string' ? byName[credentials.token] : undefined),
  authorize: { emit: () => true },
  tenant: (u) => u.tenant,
};

// One PGlite per test file, shared with the realtime harness.
export { sharePGlite };

export interface SecureServer {
  fete: Fete<Topics>;
  router: FeteRouter;
  http: HttpServer;
  /** http://127.0.0.1:port (Socket.IO at /socket.io, namespace /fete) */
  url: string;
  /** `${url}/fete` */
  api: string;
  close(): Promise<void>;
}

export async function startSecureServer(
  security: SecurityOptions<User> | undefined,
  express_: ExpressOptions<User> = {},
  fete_: Partial<FeteOptions<Topics>> = {},
): Promise<SecureServer> {
  const store = sharedStore();
  const fete = await createFete({ topics, store, schema: freshSchema('sec'), ...(security ? { security } : {}), ...fete_ });
  // Appends wake readers through notifications; polling is only the fallback, kept slow so that
  // many open streams do not queue their polls in front of the test's own queries on PGlite.
  const router = fete.express({ stream: { pollIntervalMs: 500 }, ...express_ });
  const app = express();
  app.use('/fete', router);
  const http = createServer(app);
  fete.attach(http, { pollIntervalMs: 500 });
  const url = await listen(http);
  return {
    fete,
    router,
    http,
    url,
    api: `${url}/fete`,
    async close() {
      router.close();
      await fete.stop({ drain: false });
      await closeHttp(http);
    },
  };
}

export function bearer(user: string | undefined): Record<string, string> {
  return user === undefined ? {} : { authorization: `Bearer ${user}` };
}

export async function postEmit(api: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const res = await fetch(`${api}/emit`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

/** An SSE stream's decoded events, collected as they arrive; `close()` aborts it. */
export interface SseCollector {
  status: number;
  events: Envelope[];
  /** Raw `data:` lines, before decoding. */
  raw: string[];
  /** The first comment's cursor once the stream started (the `: ok cursor=N` line). */
  started: Promise<void>;
  close(): void;
}

export async function collectSse(url: string, headers: Record<string, string> = {}): Promise<SseCollector> {
  const abort = new AbortController();
  const res = await fetch(url, { headers, signal: abort.signal });
  const out: SseCollector = { status: res.status, events: [], raw: [], started: Promise.resolve(), close: () => abort.abort() };
  if (res.status !== 200) {
    await res.body?.cancel();
    return out;
  }
  let markStarted!: () => void;
  out.started = new Promise((r) => (markStarted = r));
  readSseBlocks(res.body!, (block) => {
    if (block.includes(': ok cursor=')) markStarted();
    const data = /^data: (.*)$/m.exec(block)?.[1];
    if (data !== undefined) {
      out.raw.push(data);
      out.events.push(decodeEnvelope(data));
    }
  }).catch(() => undefined); // aborted
  return out;
}
