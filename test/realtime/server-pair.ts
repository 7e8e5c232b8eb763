// Two web servers of the realtime tests (startServer) on one PostgreSQL schema, as a suite
// fixture: started before the suite's tests, closed after them with every raw client the tests
// opened, and the schema dropped. The two-server fanout tests and the NATS bus tests share it.
import { afterAll, beforeAll } from 'vitest';
import type { FeteOptions } from '../../server/options.js';
import { dropSchemasAt, freshSchema } from '../support/postgres.js';
import { type RawClient, type ServerOptions, startServer, type TestServer, type Topics } from './support.js';

export interface ServerPair {
  /** The two servers; set once the suite's `beforeAll` ran. */
  a: TestServer;
  b: TestServer;
  /** Registers a raw client opened by the test for closing after the suite. */
  track(...clients: RawClient[]): void;
}

/**
 * Registers `beforeAll`/`afterAll` hooks for two servers with the `web` role on `store` (a
 * postgres:// URL) in a fresh schema named after `prefix`, both with the same attach/security
 * `options` and fete options (`bus`, ...). Call it inside the `describe` that uses it.
 */
export function serverPair(store: () => string, prefix: string, options: ServerOptions, feteOptions: Partial<FeteOptions<Topics>> = {}): ServerPair {
  const schema = freshSchema(prefix);
  const raws: RawClient[] = [];
  const pair = { track: (...clients: RawClient[]) => void raws.push(...clients) } as ServerPair;
  beforeAll(async () => {
    const fete = { ...feteOptions, store: store(), schema, roles: ['web' as const] };
    pair.a = await startServer(options, fete);
    pair.b = await startServer(options, fete);
  });
  afterAll(async () => {
    for (const c of raws) c.close();
    await pair.a?.close();
    await pair.b?.close();
    await dropSchemasAt(store(), [schema]);
  });
  return pair;
}
