// Issue 14: one emit is admitted once. A schema that counts its calls sees exactly one call per
// emit, whatever door it came through: fete.emit, emitMany, tx.emit, a durable and a non-durable
// listener's ctx.emit, a command's ctx.emit, a raw Socket.IO emit, POST /fete/emit, a browser
// client's outbox drain, `dispatch: 'inline'`, and a command forwarded to another role's process
// (whose input schema also runs once). On PGlite and PostgreSQL.
import 'fake-indexeddb/auto';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createClient } from '../../client/index.js';
import { createFete } from '../../server/index.js';
import { defineCommand, defineTopic, defineTopics, encodeValue, uuidv7 } from '../../shared/index.js';
import { RawClient, until } from '../realtime/support.js';
import { rawEnvelope, topics, useEngines, validations, type IngressServer } from './harness.js';

const engines = useEngines();

/** A schema that counts its calls in `counter` (and passes any value through). */
function counting(counter: { count: number }): StandardSchemaV1<unknown, unknown> {
  return {
    '~standard': {
      version: 1,
      vendor: 'fete-test',
      validate: (value) => {
        counter.count++;
        return { value };
      },
    },
  };
}

const inputs = { count: 0 };
/** A command whose input schema counts, and whose handler emits the counted topic once. */
const record = defineCommand('counted.record', { input: counting(inputs), output: z.object({ id: z.string() }) });

/** The browser's copy of the catalogue, with its own counter: the client validates once at emit. */
const clientValidations = { count: 0 };
const clientTopics = defineTopics({ counted: defineTopic('counted.value', { kind: 'domain', clientEmit: true, schema: counting(clientValidations) }) });

/** How many schema calls `fn` made, once everything it started has settled (`settled`). */
async function runsOf(fn: () => Promise<unknown>, settled?: () => boolean | Promise<boolean>): Promise<number> {
  const before = validations.count;
  await fn();
  if (settled) await until(settled, 'the emit to settle');
  return validations.count - before;
}

function handleRecord(server: IngressServer): void {
  server.fete.handle(record, async (_input, ctx) => {
    const r = await ctx.emit(topics.counted, { by: 'command' });
    return { id: r.id };
  });
}

/** The `by` of every counted event this server commits, from the log's commit hook. */
function commits(server: IngressServer): Set<string> {
  const seen = new Set<string>();
  server.fete.log.onCommit((events) => {
    for (const e of events) if (e.topic === topics.counted.name) seen.add(String((e.payload as { by?: unknown }).by));
  });
  return seen;
}

describe.each(engines)('on $name', (engine) => {
  test('the schema runs once per emit through the server doors: fete.emit, emitMany, tx.emit, a command ctx.emit', async ({ skip }) => {
    if (engine.skipReason()) skip();
    const server = await engine.start();
    handleRecord(server);
    const seen = commits(server);
    await server.fete.start();
    expect(await runsOf(() => server.fete.emit(topics.counted, { by: 'emit' }))).toBe(1);
    expect(await runsOf(() => server.fete.emitMany([{ topic: topics.counted, payload: { by: 'many' } }]))).toBe(1);
    expect(await runsOf(() => server.fete.transaction(async (tx) => tx.emit(topics.counted, { by: 'tx' })))).toBe(1);
    const before = inputs.count;
    expect(await runsOf(() => server.fete.execute(record, { n: 1 }))).toBe(1);
    expect(inputs.count - before).toBe(1);
    expect(seen.has('command')).toBe(true);
  });

  test("the schema runs once per emit from a durable and a non-durable listener's ctx.emit", async ({ skip }) => {
    if (engine.skipReason()) skip();
    const server = await engine.start();
    const { fete } = server;
    let durable = 0;
    let inline = 0;
    const seen = commits(server);
    fete.on(topics.anything, 'durable-relay', async (p, ctx) => {
      if ((p as { to?: string }).to !== 'durable') return;
      await ctx.emit(topics.counted, { by: 'durable' });
      durable++;
    });
    fete.on(
      topics.named,
      'inline-relay',
      async (_p, ctx) => {
        await ctx.emit(topics.counted, { by: 'inline' });
        inline++;
      },
      { durable: false },
    );
    await fete.start();
    expect(await runsOf(() => fete.emit(topics.anything, { to: 'durable' }), () => durable === 1 && seen.has('durable'))).toBe(1);
    expect(await runsOf(() => fete.emit(topics.named, { id: 'n', name: 'x' }), () => inline === 1 && seen.has('inline'))).toBe(1);
  });

  test('the schema runs once per emit through the browser doors: Socket.IO, HTTP, a client outbox drain, a socket command', async ({ skip }) => {
    if (engine.skipReason()) skip();
    const server = await engine.start({
      security: { auth: () => 'alice', authorize: { emit: () => true, subscribe: () => true, command: () => true } },
    });
    handleRecord(server);
    await server.fete.start();
    const raw = new RawClient(server.origin);
    try {
      await raw.connected();
      expect(await runsOf(async () => expect(await raw.emit([rawEnvelope(topics.counted.name, '{"by":"socket"}')])).toMatchObject({ ok: true, results: [{ status: 'accepted' }] }))).toBe(1);
      const before = inputs.count;
      const cmd = () => raw.socket.timeout(20_000).emitWithAck('cmd', { id: uuidv7(), name: record.name, input: encodeValue({ n: 2 }) });
      expect(await runsOf(async () => expect(await cmd()).toMatchObject({ ok: true }))).toBe(1);
      expect(inputs.count - before).toBe(1);
    } finally {
      raw.close();
    }
    const post = () => fetch(`${server.url}/emit`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic: topics.counted.name, payload: { by: 'http' } }) });
    expect(await runsOf(async () => expect((await post()).status).toBe(200))).toBe(1);

    const client = createClient({ url: server.origin, topics: clientTopics, indexedDB: new IDBFactory(), name: `once-${uuidv7()}`, locks: null });
    try {
      const clientBefore = clientValidations.count;
      expect(
        await runsOf(async () => {
          const receipt = await client.emit(clientTopics.counted, { by: 'outbox' });
          await receipt.delivered;
        }),
      ).toBe(1);
      expect(clientValidations.count - clientBefore).toBe(1);
    } finally {
      await client.close();
    }
  });
});

describe("dispatch: 'inline'", () => {
  test('the schema runs once per emit: fete.emit, a listener ctx.emit, a command ctx.emit', async () => {
    const fete = await createFete({ topics, dispatch: 'inline' });
    try {
      let relayed = 0;
      fete.on(topics.anything, 'relay', async (_p, ctx) => {
        await ctx.emit(topics.counted, { by: 'listener' });
        relayed++;
      });
      fete.handle(record, async (_input, ctx) => ({ id: (await ctx.emit(topics.counted, { by: 'command' })).id }));
      await fete.start();
      expect(await runsOf(() => fete.emit(topics.counted, { by: 'emit' }))).toBe(1);
      expect(await runsOf(() => fete.emit(topics.anything, {}), () => relayed === 1)).toBe(1);
      const before = inputs.count;
      expect(await runsOf(() => fete.execute(record, { n: 3 }))).toBe(1);
      expect(inputs.count - before).toBe(1);
    } finally {
      await fete.stop();
    }
  });
});

describe.each(engines.filter((e) => e.name === 'postgres'))('forwarded on $name', (engine) => {
  test("a command forwarded to the owner's role runs its input schema once and its emit's schema once", async ({ skip }) => {
    if (engine.skipReason()) skip();
    const security = { auth: () => 'alice', authorize: { emit: () => true, subscribe: () => true, command: () => true } };
    const web = await engine.start({ roles: ['web'], security, commands: { pollIntervalMs: 50 } });
    const handler = async (_input: unknown, ctx: { emit: (t: typeof topics.counted, p: unknown) => Promise<{ id: string }> }) => ({ id: (await ctx.emit(topics.counted, { by: 'forwarded' })).id });
    web.fete.handle(record, handler as never, { roles: ['worker'] });
    await web.fete.start();
    const worker = await createFete({ topics, store: process.env.FETE_TEST_DATABASE_URL!, schema: web.schema, roles: ['worker'], commands: { pollIntervalMs: 50 } });
    try {
      worker.handle(record, handler as never, { roles: ['worker'] });
      await worker.start();
      const before = inputs.count;
      expect(await runsOf(() => web.fete.execute(record, { n: 4 }))).toBe(1);
      expect(inputs.count - before).toBe(1);
      // From a browser door too: the door's authorize hook judges the input the owner then gets.
      const raw = new RawClient(web.origin);
      try {
        await raw.connected();
        const again = inputs.count;
        const cmd = () => raw.socket.timeout(20_000).emitWithAck('cmd', { id: uuidv7(), name: record.name, input: encodeValue({ n: 5 }) });
        expect(await runsOf(async () => expect(await cmd()).toMatchObject({ ok: true }))).toBe(1);
        expect(inputs.count - again).toBe(1);
      } finally {
        raw.close();
      }
    } finally {
      await worker.stop();
    }
  });
});
