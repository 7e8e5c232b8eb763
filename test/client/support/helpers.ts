// Shared setup for the client tests: a topic catalogue, a client wired to the fake protocol server
// with a fresh IndexedDB factory, and waiting on conditions without timing assertions.
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach } from 'vitest';
import { z } from 'zod';
import { createClient, type Client, type ClientOptions } from '../../../client/index.js';
import { defineTopic, defineTopics, uuidv7 } from '../../../shared/index.js';
import { FakeFeteServer, type FakeServerOptions } from './fake-server.js';
import { waitFor } from '../../support/wait.js';

export const topics = defineTopics({
  orderPlaced: defineTopic('orders.{orderId}.placed', {
    kind: 'domain',
    clientEmit: true,
    schema: z.object({ orderId: z.string(), total: z.number() }),
  }),
  orderStatus: defineTopic('orders.{orderId}.status', {
    kind: 'presentation',
    schema: z.object({ orderId: z.string(), status: z.enum(['placed', 'paid', 'shipped']) }),
  }),
  // Emitted by clients and received back in the subscription tests: exposed.
  note: defineTopic('notes.{n}', { kind: 'domain', clientEmit: true, expose: true, schema: z.object({ n: z.number(), text: z.string() }) }),
  audit: defineTopic('audit.log', { kind: 'domain', schema: z.object({ msg: z.string() }) }),
});
export type Topics = typeof topics;

/** Registers an afterEach that closes every client passed to the returned `track`. */
export function closeAfterEach(): (c: Client<Topics>) => Client<Topics> {
  const open: Client<Topics>[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });
  return (c) => {
    open.push(c);
    return c;
  };
}

export function fakeServer(options: Partial<FakeServerOptions> = {}): FakeFeteServer {
  return new FakeFeteServer({ topics, ...options });
}

/** A client of the fake server; tests share `indexedDB` and `name` to model tabs and reloads. */
export function testClient(server: FakeFeteServer, options: Partial<ClientOptions<Topics>> & { label?: string } = {}): Client<Topics> {
  const { label = 'A', ...rest } = options;
  return createClient({
    url: 'http://fete.test',
    topics,
    auth: { label },
    indexedDB: new IDBFactory(),
    name: `db-${uuidv7()}`,
    transport: server.transport,
    locks: null,
    retry: { initialDelayMs: 1, maxDelayMs: 8 },
    pollIntervalMs: 25,
    ...rest,
  });
}

export { IDBFactory };

/** Polls every 2 ms until `check` returns something other than undefined/false (20 s deadline). */
export function until<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what = 'condition'): Promise<T> {
  return waitFor(check, { what, timeoutMs: 20_000, intervalMs: 2 });
}

/** Lets queued microtasks and fake-indexeddb's scheduled work run. */
export function settle(rounds = 5): Promise<void> {
  let p = Promise.resolve();
  for (let i = 0; i < rounds; i++) p = p.then(() => new Promise((r) => setTimeout(r, 0)));
  return p;
}
