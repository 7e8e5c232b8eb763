// The HTTP suites' harness: a fete on in-memory PGlite (a fresh schema per test) with a small catalogue, mounted with
// `createExpressMiddleware` in a real Express app on an ephemeral port, plus a reader of
// Server-Sent Events over fetch. Everything opened is closed after each test.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { PGlite } from '@electric-sql/pglite';
import express from 'express';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { z } from 'zod';
import { defineTopic, defineTopics } from '../../shared/index.js';
import { type Fete, createFete } from '../../server/index.js';
import { type ExpressOptions, type FeteRouter, createExpressMiddleware } from '../../server/http/index.js';
import type { SecurityOptions } from '../../server/index.js';
import { freshSchema } from '../support/postgres.js';
import { parseSseMessage, sseBlocks, type SseMessage } from '../support/sse-blocks.js';

export type { SseMessage };
import { closeHttp } from '../support/http-server.js';

export const topics = defineTopics({
  // Emitted by HTTP callers and streamed back to them in these tests: exposed explicitly.
  orderCreated: defineTopic('orders.{orderId}.created', {
    kind: 'domain',
    clientEmit: true,
    expose: true,
    schema: z.object({ orderId: z.string(), total: z.number(), at: z.date().optional() }),
  }),
  orderStatus: defineTopic('orders.{orderId}.status', { kind: 'presentation', schema: z.object({ orderId: z.string(), status: z.string() }) }),
  // Streamed (large) to a slow SSE client in the stream tests: exposed explicitly.
  audit: defineTopic('audit.{kind}', { kind: 'integration', expose: true, schema: z.object({ kind: z.string(), msg: z.string() }) }),
});
export type Topics = typeof topics;

/** Principals come from the `x-user` header; `mallory` may not emit, `eve` may not subscribe. */
export const testAuth: SecurityOptions<string> = {
  auth: ({ headers }) => {
    const user = headers['x-user'];
    if (user === 'nobody') throw new Error('bad token');
    return typeof user === 'string' ? user : 'anonymous';
  },
  authorize: {
    emit: (principal) => principal !== 'mallory',
    subscribe: (principal) => principal !== 'eve',
  },
};

export interface TestServer {
  fete: Fete<Topics>;
  router: FeteRouter;
  /** Base URL of the mounted router, e.g. http://127.0.0.1:1234/fete */
  url: string;
  server: Server;
}

const opened: Array<{ fete: Fete<Topics>; router: FeteRouter; server: Server; aborts: Set<AbortController> }> = [];
const aborts = new Set<AbortController>();

// One PGlite per test file, a schema per test: starting PGlite costs seconds, a schema milliseconds.
let db: PGlite | undefined;
beforeAll(async () => {
  db = await PGlite.create();
});
afterAll(async () => {
  await db?.close();
});

afterEach(async () => {
  for (const a of aborts) a.abort();
  aborts.clear();
  for (const o of opened.splice(0)) {
    o.router.close();
    await closeHttp(o.server);
    await o.fete.stop({ drain: false }).catch(() => undefined);
  }
});

/** Express options plus the fete's security config (`testAuth` unless given). */
export type ServerOptions = ExpressOptions<string> & { security?: SecurityOptions<string> };

export async function startServer({ security = testAuth, ...options }: ServerOptions = {}, fete?: Fete<Topics>): Promise<TestServer> {
  fete ??= await createFete({
    topics,
    security,
    store: { pglite: db! },
    schema: freshSchema('http'),
    worker: { leaseMs: 2000, heartbeatMs: 200, pollIntervalMs: 50 },
    listenerDefaults: { backoff: { initialMs: 10, factor: 1, maxMs: 10, jitter: 0 } },
  });
  const router = createExpressMiddleware(fete, { stream: { pollIntervalMs: 50 }, ...options });
  const app = express();
  app.use('/fete', router);
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  opened.push({ fete, router, server, aborts });
  const { port } = server.address() as AddressInfo;
  return { fete, router, url: `http://127.0.0.1:${port}/fete`, server };
}

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** An open SSE response read message by message. */
export interface SseReader {
  status: number;
  response: Response;
  /** The next message with data (comments are collected in `comments`). */
  next(): Promise<SseMessage>;
  /** The next message of any kind, comments included. */
  nextRaw(): Promise<SseMessage>;
  /** Reads `n` data messages. */
  take(n: number): Promise<SseMessage[]>;
  close(): void;
}

export async function openStream(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
  const abort = new AbortController();
  aborts.add(abort);
  const response = await fetch(url, { headers, signal: abort.signal });
  const blocks = sseBlocks(response.body!);
  const nextRaw = async (): Promise<SseMessage> => {
    const block = await blocks.next();
    if (block.done) throw new Error('stream ended');
    return parseSseMessage(block.value);
  };
  const next = async (): Promise<SseMessage> => {
    for (;;) {
      const m = await nextRaw();
      if (m.data !== undefined) return m;
    }
  };
  return {
    status: response.status,
    response,
    nextRaw,
    next,
    async take(n) {
      const out: SseMessage[] = [];
      while (out.length < n) out.push(await next());
      return out;
    },
    close() {
      abort.abort();
      aborts.delete(abort);
    },
  };
}

/** The seq of an SSE message's id (`<epoch>:<seq>`). */
export function seqOf(m: SseMessage): number {
  return Number(m.id?.split(':').at(-1));
}
