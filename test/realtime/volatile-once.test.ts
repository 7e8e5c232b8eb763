// A volatile event is handed over once, though its emit may be sent twice: a browser's outbox
// resends an emit whose ack was lost, to the same server or, after a reconnect, to another one.
// The process that published an id lately answers the resend `duplicate` and sends nothing
// (emit-route.ts); a resend that another process publishes reaches the browser client twice, and
// the client hands it over once (subscription-router.ts, by the subscription's recent ids).
import { createServer, type Server as HttpServer } from 'node:http';
import { IDBFactory } from 'fake-indexeddb';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createClient, type Client } from '../../client/index.js';
import { createFete, type Fete } from '../../server/index.js';
import { createEnvelope, encodeEnvelope, type Envelope, uuidv7 } from '../../shared/index.js';
import { dropSchemasAt, freshSchema, postgresAvailability } from '../support/postgres.js';
import { liveTopics as topics, type LiveTopics } from './live-topics.js';
import { RawClient, until } from './support.js';
import { closeHttp, listen } from '../support/http-server.js';

const availability = await postgresAvailability();

const opened: Array<{ fete: Fete<LiveTopics>; http: HttpServer }> = [];
const clients: Array<Client<LiveTopics>> = [];
const raws: RawClient[] = [];
const schemas: string[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const r of raws.splice(0)) r.close();
  for (const o of opened.splice(0)) {
    await o.fete.stop();
    await closeHttp(o.http);
  }
});
afterAll(async () => {
  if (schemas.length === 0) return;
  await dropSchemasAt(availability.url!, schemas);
});

async function serve(store: string | 'memory', schema?: string): Promise<{ fete: Fete<LiveTopics>; url: string }> {
  const fete = await createFete({ topics, store, ...(schema ? { schema } : {}), logger: false, security: { auth: 'anonymous', authorize: { emit: () => true } } });
  const http = createServer();
  fete.attach(http);
  const url = await listen(http);
  opened.push({ fete, http });
  return { fete, url };
}

function client(url: string): Client<LiveTopics> {
  const c = createClient({ url, topics, indexedDB: new IDBFactory(), name: `db-${uuidv7()}`, locks: null, retry: { initialDelayMs: 5, maxDelayMs: 50 } });
  clients.push(c);
  return c;
}

function raw(url: string): RawClient {
  const r = new RawClient(url);
  raws.push(r);
  return r;
}

describe('a volatile emit sent twice', () => {
  it('is a duplicate when the same server gets it again: nothing is sent a second time', async () => {
    const s = await serve('memory');
    const watcher = raw(s.url);
    const sender = raw(s.url);
    await Promise.all([watcher.connected(), sender.connected()]);
    await watcher.sub('w', 'rooms.*.typing');
    const packet = [encodeEnvelope(createEnvelope(topics.typing, { room: 'r', who: 'ann' }))];
    expect(await sender.emit(packet)).toMatchObject({ ok: true, results: [{ status: 'accepted' }] });
    expect(await sender.emit(packet)).toMatchObject({ ok: true, results: [{ status: 'duplicate' }] });
    // A later event shows the first was not followed by a second copy.
    await s.fete.emit(topics.typing, { room: 'r', who: 'bob' });
    await until(() => (watcher.events.get('w')?.length ?? 0) >= 2, 'the later event');
    expect(watcher.events.get('w')!.map((e) => (e.payload as { who: string }).who)).toEqual(['ann', 'bob']);
    // The server's own emits dedupe the same way (an id given twice).
    const id = uuidv7();
    expect(await s.fete.emit(topics.cursor, { room: 'r', x: 1 }, { id })).toMatchObject({ duplicate: false });
    expect(await s.fete.emit(topics.cursor, { room: 'r', x: 1 }, { id })).toMatchObject({ duplicate: true });
  });

  it.skipIf(availability.url === undefined)('through two servers reaches a browser client once', async () => {
    const schema = freshSchema('vonce');
    schemas.push(schema);
    const a = await serve(availability.url!, schema);
    const b = await serve(availability.url!, schema);
    const watcher = client(a.url);
    const got: Envelope[] = [];
    await watcher.subscribe('rooms.*.cursor', (e) => void got.push(e)).ready;
    const wire = raw(a.url); // what the server sends, without the client's check
    await wire.connected();
    await wire.sub('w', 'rooms.*.cursor');
    const id = uuidv7();
    await a.fete.emit(topics.cursor, { room: 'r', x: 1 }, { id });
    await b.fete.emit(topics.cursor, { room: 'r', x: 1 }, { id }); // the resend, through the other server
    await a.fete.emit(topics.cursor, { room: 'r', x: 2 });
    await until(() => (wire.events.get('w')?.length ?? 0) >= 3 && got.length >= 2, 'the events');
    expect(wire.events.get('w')!.map((e) => e.id).filter((x) => x === id)).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 100));
    expect(got.map((e) => (e.payload as { x: number }).x)).toEqual([1, 2]);
  });
});
