// The server harness of the volatile and latest-value tests (live-topics.test.ts,
// latest-clear.test.ts): a fete on an engine (dispatch 'inline', PGlite, PostgreSQL) with
// Socket.IO and the Express router (`/fete`) on one HTTP server, the real browser client and the
// raw protocol client, and the vitest hooks that open the shared PGlite and close, after each test,
// what it opened (and, at the end, drop the PostgreSQL schemas it made).
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { PGlite } from '@electric-sql/pglite';
import express from 'express';
import pg from 'pg';
import { createServer, type Server as HttpServer } from 'node:http';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createClient, type Client } from '../../client/index.js';
import { createFete, type Fete } from '../../server/index.js';
import type { FanoutHandle } from '../../server/fanout/types.js';
import type { SecurityOptions } from '../../server/security/security-options.js';
import { type TopicCatalog, uuidv7 } from '../../shared/index.js';
import { dropSchemas, freshSchema } from '../support/postgres.js';
import { RawClient } from './support.js';
import { closeHttp, listen } from '../support/http-server.js';

export type Engine = 'inline' | 'pglite' | 'postgres';

export interface Served<C extends TopicCatalog> {
  fete: Fete<C>;
  fanout: FanoutHandle;
  url: string;
  http: HttpServer;
  engine: Engine;
  schema: string;
  close(): Promise<void>;
}

export interface ServeOptions {
  /** Shares a PostgreSQL schema between two fetes (two processes of one deployment). */
  schema?: string;
  attach?: { maxBufferedEvents?: number };
  bus?: { nats: string };
  /** createFete's `retention` (the settling and pruning of latest removals). */
  retention?: { graceMs?: number; removalsMs?: number; intervalMs?: number };
}

interface User {
  id: string;
  tenant: string;
}

/** `token` is `<id>@<tenant>`; without one, the anonymous user of the default tenant. */
export const tokenSecurity: SecurityOptions<User> = {
  auth: ({ credentials, headers }) => {
    const token = typeof credentials.token === 'string' ? credentials.token : headers['x-token'];
    if (typeof token !== 'string') return { id: 'anon', tenant: '' };
    const [id, tenant] = token.split('@');
    return { id: id!, tenant: tenant ?? '' };
  },
  tenant: (u) => u.tenant,
};

/** Registers the hooks and returns the harness of `topics`. `postgresUrl`: PostgreSQL's URL when
 * it is available (its engine is then among `engines`). */
export function liveHarness<C extends TopicCatalog>(topics: C, o: { postgresUrl: string | undefined; security: SecurityOptions<User>; schemaPrefix: string }) {
  const engines: Engine[] = ['inline', 'pglite', ...(o.postgresUrl ? (['postgres'] as const) : [])];
  let pglite: PGlite | undefined;
  let pool: pg.Pool | undefined;
  const pgSchemas: string[] = [];
  const served: Array<Served<C>> = [];
  const clients: Array<Client<C>> = [];
  const closers: Array<{ close(): void }> = [];

  beforeAll(async () => {
    pglite = await PGlite.create();
    if (o.postgresUrl) pool = new pg.Pool({ connectionString: o.postgresUrl });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    for (const r of closers.splice(0)) r.close();
    for (const s of served.splice(0)) await s.close();
  });
  afterAll(async () => {
    await pglite?.close();
    if (pool && pgSchemas.length > 0) await dropSchemas(pool, pgSchemas);
    await pool?.end();
  });

  async function serve(engine: Engine, s: ServeOptions = {}): Promise<Served<C>> {
    const schema = s.schema ?? freshSchema(o.schemaPrefix);
    const store = engine === 'postgres' ? o.postgresUrl! : { pglite: pglite! };
    if (engine === 'postgres' && !pgSchemas.includes(schema)) pgSchemas.push(schema);
    const security = o.security;
    const fete =
      engine === 'inline'
        ? ((await createFete({ topics, security, dispatch: 'inline', ...(s.retention ? { retention: s.retention } : {}) })) as unknown as Fete<C>)
        : await createFete({ topics, security, store, schema, ...(s.bus ? { bus: s.bus } : {}), ...(s.retention ? { retention: s.retention } : {}) });
    const app = express();
    app.use('/fete', fete.express());
    const http = createServer(app);
    const fanout = fete.attach(http, { pollIntervalMs: 50, ...s.attach });
    const url = await listen(http);
    const out: Served<C> = {
      fete,
      fanout,
      engine,
      schema,
      http,
      url,
      async close() {
        await fete.stop();
        await closeHttp(http);
      },
    };
    served.push(out);
    return out;
  }

  function client(s: Served<C>, token?: string): Client<C> {
    const c = createClient({
      url: s.url,
      topics,
      auth: token === undefined ? {} : { token },
      indexedDB: new IDBFactory(),
      name: `db-${uuidv7()}`,
      locks: null,
      retry: { initialDelayMs: 5, maxDelayMs: 50 },
    });
    clients.push(c);
    return c;
  }

  function raw(s: Served<C>, token?: string): RawClient {
    const r = new RawClient(s.url, token === undefined ? {} : { token });
    closers.push(r);
    return r;
  }

  return {
    engines,
    serve,
    client,
    raw,
    /** Closed after the test (an SSE reader, ...). */
    closeAfter<T extends { close(): void }>(x: T): T {
      closers.push(x);
      return x;
    },
    /** Runs SQL on the store of `s` (PGlite or PostgreSQL). */
    async sql(s: Served<C>, text: string): Promise<void> {
      if (s.engine === 'pglite') await pglite!.query(text);
      else await pool!.query(text);
    },
  };
}
