// The ingress suites' harness: a catalogue with a transforming schema, a pass-through schema and
// strict ones; a fete (PGlite or PostgreSQL, a fresh schema each) whose HTTP server carries both
// doors a browser uses (Socket.IO fanout and the Express router, POST /fete/emit and the SSE
// stream); and helpers that capture what each door answers for one payload.
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import express from 'express';
import { createServer, type Server as HttpServer } from 'node:http';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { z } from 'zod';
import { createClient, type Client } from '../../client/index.js';
import { createFete, type Fete } from '../../server/index.js';
import type { FeteOptions } from '../../server/options.js';
import { createExpressMiddleware, type FeteRouter } from '../../server/http/index.js';
import { type TopicCatalog, FeteError, defineTopic, defineTopics, uuidv7 } from '../../shared/index.js';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { type PostgresAvailability, dropSchemasAt, freshSchema, postgresAvailability } from '../support/postgres.js';
import { closeHttp, listen } from '../support/http-server.js';

/** A Standard Schema that accepts any value and returns it as is. */
export function passThrough<T = unknown>(): StandardSchemaV1<T, T> {
  return { '~standard': { version: 1, vendor: 'fete-test', validate: (value) => ({ value: value as T }) } };
}

/** Calls of the `counted` topic's schema (a validation with a visible effect). */
export const validations = { count: 0 };
const countingSchema: StandardSchemaV1<unknown, unknown> = {
  '~standard': {
    version: 1,
    vendor: 'fete-test',
    validate: (value) => {
      validations.count++;
      return { value };
    },
  },
};

export const topics = defineTopics({
  /** Input `{ qty: '3' }`, output `{ qty: 3 }`. */
  qty: defineTopic('orders.{orderId}.qty', {
    kind: 'domain',
    clientEmit: true,
    // Sent to browsers too: the one-path tests check every receiver (socket, SSE) gets the output.
    expose: true,
    schema: z.object({ orderId: z.string(), qty: z.string().transform(Number) }),
  }),
  anything: defineTopic('any.value', { kind: 'domain', clientEmit: true, schema: passThrough() }),
  view: defineTopic('views.value', { kind: 'presentation', schema: passThrough() }),
  when: defineTopic('when.{id}', { kind: 'domain', clientEmit: true, schema: z.object({ id: z.string(), at: z.instanceof(Date) }) }),
  named: defineTopic('named.{id}', { kind: 'domain', clientEmit: true, schema: z.object({ id: z.string(), name: z.string() }) }),
  internal: defineTopic('internal.value', { kind: 'domain', schema: passThrough() }),
  counted: defineTopic('counted.value', { kind: 'domain', clientEmit: true, schema: countingSchema }),
});
export type Topics = typeof topics;

/** The same topic names with lenient schemas: a browser whose catalogue lags the server's sends
 * what only the server refuses (so the refusal reaches `receipt.delivered`). */
export const lenientTopics = defineTopics({
  named: defineTopic('named.{id}', { kind: 'domain', clientEmit: true, schema: passThrough<{ id: string; name?: unknown }>() }),
  anything: defineTopic('any.value', { kind: 'domain', clientEmit: true, schema: passThrough() }),
});

export interface IngressServer {
  fete: Fete<Topics>;
  /** fete's SQL schema (dropped by the suite on PostgreSQL). */
  schema: string;
  router: FeteRouter;
  http: HttpServer;
  /** Origin of the HTTP server (Socket.IO at /socket.io, namespace /fete). */
  origin: string;
  /** Base URL of the Express router. */
  url: string;
  close(): Promise<void>;
}

/** A fete on `store` with both browser doors on one HTTP server; every principal is 'alice',
 * who may emit and subscribe. */
export async function startIngressServer(store: FeteOptions<Topics>['store'], options: Partial<FeteOptions<Topics>> = {}): Promise<IngressServer> {
  const schema = freshSchema('ing');
  const fete = await createFete({
    topics,
    store,
    schema,
    worker: { leaseMs: 2000, heartbeatMs: 200, pollIntervalMs: 50 },
    listenerDefaults: { backoff: { initialMs: 10, factor: 1, maxMs: 10, jitter: 0 } },
    security: { auth: () => 'alice', authorize: { emit: () => true, subscribe: () => true } },
    ...options,
  });
  const router = createExpressMiddleware(fete, { stream: { pollIntervalMs: 50 } });
  const app = express();
  app.use('/fete', router);
  const http = createServer(app);
  fete.attach(http, { pollIntervalMs: 50 });
  const origin = await listen(http);
  return {
    fete,
    schema,
    router,
    http,
    origin,
    url: `${origin}/fete`,
    async close() {
      router.close();
      await fete.stop({ drain: false }).catch(() => undefined);
      await closeHttp(http);
    },
  };
}

/** A browser client (fake IndexedDB, no leader election) on the server's Socket.IO door. */
export function browserClient<C extends TopicCatalog>(origin: string, catalog: C): Client<C> {
  return createClient({ url: origin, topics: catalog, indexedDB: new IDBFactory(), name: `ingress-${uuidv7()}`, locks: null });
}

/** What a door answered: a FeteError's code and retryable flag, an HTTP status, or 'ok'. */
export interface Refusal {
  code: string;
  retryable: boolean;
  status?: number;
  message: string;
}

/** The FeteError a promise rejected with (fails the test if it resolved or threw something else). */
export async function refusalOf(p: Promise<unknown>): Promise<Refusal> {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof FeteError)) throw new Error(`expected a FeteError, got ${String(err)}`, { cause: err });
    return { code: err.code, retryable: err.retryable, message: err.message };
  }
  throw new Error('expected a refusal, but it was accepted');
}

/** POSTs one plain emit item; the refusal with its HTTP status (fails the test on 200). */
export async function httpRefusal(url: string, item: unknown): Promise<Refusal> {
  const res = await fetch(`${url}/emit`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(item) });
  const body = (await res.json()) as { error?: { code: string; message: string; retryable?: boolean } };
  if (res.status === 200 || !body.error) throw new Error(`expected a refusal over HTTP, got ${res.status} ${JSON.stringify(body)}`);
  const code = body.error.code;
  return { code, retryable: new FeteError(code as never, '').retryable, status: res.status, message: body.error.message };
}

/** One superjson envelope text as a browser sends it, with `payload` spliced in as given (JSON text)
 * and an optional superjson `meta` (JSON text): hostile input. */
export function rawEnvelope(topic: string, payloadJson: string, meta?: string, id = uuidv7()): string {
  const json = `{"id":"${id}","topic":${JSON.stringify(topic)},"subject":"x.y","time":"${new Date().toISOString()}","headers":{},"payload":${payloadJson},"context":{}}`;
  return `{"json":${json}${meta === undefined ? '' : `,"meta":${meta}`}}`;
}

export interface IngressEngine {
  name: 'pglite' | 'postgres';
  /** Why the engine's tests are skipped (PostgreSQL without FETE_TEST_DATABASE_URL outside CI). */
  skipReason(): string | undefined;
  /** A fete on this engine with both browser doors (closed by `closeAll` after each test). */
  start(options?: Partial<FeteOptions<Topics>>): Promise<IngressServer>;
}

/** PGlite in memory (one per file) and PostgreSQL (FETE_TEST_DATABASE_URL). Registers the file's
 * hooks: servers are closed after each test, PostgreSQL schemas dropped after the file. */
export function useEngines(): IngressEngine[] {
  let db: PGlite | undefined;
  let pg: PostgresAvailability | undefined;
  const schemas: string[] = [];
  const open: IngressServer[] = [];
  beforeAll(async () => {
    db = await PGlite.create();
    pg = await postgresAvailability();
    if (pg.skipReason) console.warn(`ingress suites: PostgreSQL skipped: ${pg.skipReason}`);
  });
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
  });
  afterAll(async () => {
    await db?.close();
    if (pg?.url && schemas.length > 0) {
      await dropSchemasAt(pg.url, schemas);
    }
  });
  const engine = (name: 'pglite' | 'postgres'): IngressEngine => ({
    name,
    skipReason: () => (name === 'postgres' ? pg?.skipReason : undefined),
    async start(options) {
      const server = await startIngressServer(name === 'pglite' ? { pglite: db! } : pg!.url!, options);
      open.push(server);
      if (name === 'postgres') schemas.push(server.schema);
      return server;
    },
  });
  return [engine('pglite'), engine('postgres')];
}
