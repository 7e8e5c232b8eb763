// The operational log (server/logger.ts): with an in-memory pino-style logger, each thing an
// operator must see is logged once, with the fields to act on: failed attempts (listener, event
// id, attempt, error), dead letters, refused socket handshakes and HTTP requests (401/403), store
// outages and recoveries, deliveries waiting with no worker; each kind rate-limited.
import 'fake-indexeddb/auto';
import { createServer, type Server } from 'node:http';
import express from 'express';
import { io } from 'socket.io-client';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freshSchema } from '../support/postgres.js';
import { z } from 'zod';
import { FeteError, defineTopic, defineTopics } from '../../shared/index.js';
import { type DispatchMode, type Fete, type FeteLogger, createFete } from '../../server/index.js';
import { LogEvents, formatLine, stderrLogger } from '../../server/logger.js';
import { openPGliteDriver } from '../../server/store/pglite-driver.js';
import type { Driver } from '../../server/store/driver.js';
import { waitFor } from '../support/wait.js';
import { closeHttp, listen as listenHttp } from '../support/http-server.js';

const topics = defineTopics({
  orderCreated: defineTopic('orders.{orderId}.created', { kind: 'domain', clientEmit: true, schema: z.object({ orderId: z.string() }) }),
  orderStatus: defineTopic('orders.{orderId}.status', { kind: 'presentation', schema: z.object({ orderId: z.string(), status: z.string() }) }),
});

interface Line {
  level: 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  message: string;
}
function memoryLogger(): FeteLogger & { lines: Line[]; of(event: string): Line[] } {
  const lines: Line[] = [];
  const at = (level: Line['level']) => (fields: Record<string, unknown>, message: string) => void lines.push({ level, fields, message });
  return { lines, info: at('info'), warn: at('warn'), error: at('error'), of: (event) => lines.filter((l) => l.fields.event === event) };
}

const fast = { backoff: { initialMs: 10, factor: 1, maxMs: 10, jitter: 0 } };
const worker = { leaseMs: 2000, heartbeatMs: 100, pollIntervalMs: 50 };
// One PGlite for the file (starting one costs seconds), a schema per fete.
let db: PGlite;
beforeAll(async () => {
  db = await PGlite.create();
});
afterAll(() => db.close());
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
async function fete(options: Partial<Parameters<typeof createFete<typeof topics, DispatchMode>>[0]> = {}): Promise<Fete<typeof topics, DispatchMode>> {
  const f = await createFete({ topics, store: { pglite: db }, schema: freshSchema('oplog'), worker, listenerDefaults: fast, ...options });
  cleanups.push(() => f.stop({ drain: false }));
  return f;
}
async function listen(server: Server): Promise<string> {
  cleanups.push(() => closeHttp(server));
  return listenHttp(server);
}

describe('failed attempts and dead letters', () => {
  it('logs each failed attempt once with listener, event id, attempt and error, then one dead letter', async () => {
    const logger = memoryLogger();
    const f = await fete({ logger });
    f.on(topics.orderCreated, 'charge-card', () => {
      throw new Error('relation "charges" does not exist');
    }, { retries: 2 });
    await f.start();
    const { id } = await f.emit(topics.orderCreated, { orderId: 'o-1' });
    await waitFor(() => logger.of('dead-letter').length === 1, { what: 'the dead-letter line' });
    const failed = logger.of('attempt-failed');
    expect(failed.map((l) => l.fields.attempt)).toEqual(['1/3', '2/3']);
    for (const l of failed) {
      expect(l.level).toBe('warn');
      expect(l.fields).toMatchObject({ listener: 'charge-card', target: 'orders.{orderId}.created', eventId: id, retryInMs: 10 });
      expect(l.fields.error).toBe('Error: relation "charges" does not exist');
      expect(typeof l.fields.deliveryId).toBe('number');
    }
    const [dead] = logger.of('dead-letter');
    expect(dead!.level).toBe('error');
    expect(dead!.fields).toMatchObject({ listener: 'charge-card', eventId: id, attempts: 3, error: 'Error: relation "charges" does not exist' });
    expect(dead!.fields.deliveryId).toBe((await f.deadLetters())[0]!.id);
    // Once each: three attempts, three lines, nothing else.
    expect(logger.lines).toHaveLength(3);
  });

  it('logs failed attempts and dead letters of inline dispatch the same way', async () => {
    const logger = memoryLogger();
    const f = await fete({ logger, dispatch: 'inline' });
    f.on(topics.orderCreated, 'flaky', () => Promise.reject('a plain string'), { retries: 1 });
    await f.start();
    await f.emit(topics.orderCreated, { orderId: 'o-2' });
    await waitFor(() => logger.of('dead-letter').length === 1);
    expect(logger.of('attempt-failed').map((l) => [l.fields.attempt, l.fields.error])).toEqual([['1/2', 'a plain string']]);
    expect(logger.of('dead-letter')[0]!.fields).toMatchObject({ listener: 'flaky', attempts: 2 });
  });
});

describe('refused connections', () => {
  it('logs a refused Socket.IO handshake with its code and reason', async () => {
    const logger = memoryLogger();
    const f = await fete({
      logger,
      security: {
        auth: ({ credentials: a }) => {
          if (a.token === 'banned') throw new FeteError('FORBIDDEN', 'banned user');
          if (a.token !== 'good') throw new Error('bad token');
          return { id: 'u' };
        },
      },
    });
    const http = createServer();
    f.attach(http);
    const url = await listen(http);
    for (const token of ['wrong', 'banned']) {
      const socket = io(`${url}/fete`, { auth: { token }, reconnection: false, forceNew: true });
      await new Promise<void>((r) => socket.once('connect_error', () => r()));
      socket.close();
    }
    expect(logger.of('refused-socket').map((l) => l.fields)).toEqual([
      expect.objectContaining({ door: 'socket', code: 'UNAUTHORIZED', reason: 'authentication failed' }),
      expect.objectContaining({ door: 'socket', code: 'FORBIDDEN', reason: 'banned user' }),
    ]);
    expect(logger.of('refused-socket')[0]!.level).toBe('warn');
  });

  it('logs HTTP requests answered 401 and 403, with method and path but not the query', async () => {
    const logger = memoryLogger();
    const f = await fete({
      logger,
      security: {
        auth: ({ credentials }) => {
          if (credentials.token !== 'good') throw new Error('bad token');
          return 'user';
        },
        authorize: { subscribe: () => false },
      },
    });
    const app = express().use(
      '/fete',
      f.express(),
    );
    const url = await listen(createServer(app));
    expect((await fetch(`${url}/fete/stream?pattern=orders.>&token=secret`)).status).toBe(401);
    const denied = await fetch(`${url}/fete/stream?pattern=orders.>`, { headers: { authorization: 'Bearer good' } });
    expect(denied.status).toBe(403);
    expect(logger.of('refused-http').map((l) => l.fields)).toEqual([
      expect.objectContaining({ door: 'http', code: 'UNAUTHORIZED', method: 'GET', path: '/fete/stream' }),
      expect.objectContaining({ door: 'http', code: 'FORBIDDEN', method: 'GET', path: '/fete/stream' }),
    ]);
    expect(JSON.stringify(logger.lines)).not.toContain('secret');
  });
});

/** A PGlite driver whose queries fail while `down` is set, as a lost database connection does. */
async function flakyDriver(): Promise<Driver & { down: boolean }> {
  const inner = await openPGliteDriver({ instance: db });
  const gone = () => Promise.reject(new FeteError('STORE_UNAVAILABLE', 'connection terminated unexpectedly'));
  const d = {
    down: false,
    kind: inner.kind,
    query: (sql: never, params?: readonly unknown[]) => (d.down ? gone() : inner.query(sql, params)),
    begin: (o?: never) => (d.down ? gone() : inner.begin(o)),
    transaction: (fn: never) => (d.down ? gone() : inner.transaction(fn)),
    listen: (c: string, fn: (p: string) => void, r?: () => void) => inner.listen(c, fn, r),
    close: () => inner.close(),
  };
  cleanups.push(() => inner.close());
  return d as unknown as Driver & { down: boolean };
}

describe('store outages', () => {
  it('logs one line when the store stops answering and one when it is back, however many queries failed', async () => {
    const logger = memoryLogger();
    const driver = await flakyDriver();
    const f = await fete({ logger, store: { driver } });
    const ran: string[] = [];
    f.on(topics.orderCreated, 'record', (p) => void ran.push(p.orderId));
    await f.start();
    driver.down = true;
    await expect(f.emit(topics.orderCreated, { orderId: 'lost' })).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    // Claims keep polling (every 50 ms) and failing meanwhile.
    await new Promise((r) => setTimeout(r, 300));
    driver.down = false;
    await f.emit(topics.orderCreated, { orderId: 'after' });
    await waitFor(() => ran.includes('after'));
    await waitFor(() => logger.of('store-recovered').length === 1);
    expect(logger.of('store-unavailable')).toHaveLength(1);
    expect(logger.of('store-unavailable')[0]).toMatchObject({ level: 'error', fields: { error: expect.stringContaining('connection terminated') } });
    expect(logger.of('store-recovered')[0]!.fields.downMs).toBeGreaterThanOrEqual(0);
  });
});

describe('deliveries with no worker', () => {
  it('warns when deliveries wait and fete.start() was never called', async () => {
    const logger = memoryLogger();
    const f = await fete({ logger });
    f.on(topics.orderCreated, 'charge-card', () => undefined);
    const { id } = await f.emit(topics.orderCreated, { orderId: 'o-3' });
    const [line] = await waitFor(() => logger.of('no-worker').length > 0 && logger.of('no-worker'), { what: 'the no-worker warning' });
    expect(line).toMatchObject({ level: 'warn', fields: { listener: 'charge-card', eventId: id } });
    expect(line!.fields.reason).toContain('fete.start() was not called');
  });

  it('stays quiet when the worker runs', async () => {
    const logger = memoryLogger();
    const f = await fete({ logger });
    let ran = 0;
    f.on(topics.orderCreated, 'charge-card', () => void ran++);
    await f.start();
    await f.emit(topics.orderCreated, { orderId: 'o-4' });
    await waitFor(() => ran === 1);
    await new Promise((r) => setTimeout(r, 400)); // past the look a non-running process would take
    expect(logger.of('no-worker')).toEqual([]);
  });
});

describe('rate limits and the default logger', () => {
  it('passes a burst of 10 lines of one kind, then one a second with the count of suppressed lines, without starving other kinds', () => {
    const logger = memoryLogger();
    let now = 0;
    const logs = new LogEvents(logger, undefined, () => now);
    const fail = (n: number) =>
      logs.failure({ listener: { target: 't', name: 'l' }, eventId: `e${n}`, attempt: 1, maxAttempts: 3, error: new Error('x'), dead: false, retryInMs: 1 });
    for (let i = 0; i < 50; i++) fail(i);
    logs.refused({ door: 'socket', code: 'UNAUTHORIZED', reason: 'r' });
    expect(logger.of('attempt-failed')).toHaveLength(10);
    expect(logger.of('refused-socket')).toHaveLength(1);
    now += 1000;
    fail(50);
    expect(logger.of('attempt-failed')).toHaveLength(11);
    expect(logger.of('attempt-failed')[10]!.fields).toMatchObject({ eventId: 'e50', suppressed: 40 });
  });

  it('writes warnings and errors to stderr one line each, values quoted when they need it', () => {
    const written: string[] = [];
    const log = stderrLogger((l) => written.push(l));
    log.info({ event: 'x' }, 'dropped');
    log.warn({ event: 'attempt-failed', listener: 'charge-card', attempt: '1/6', error: 'Error: bad\nsecond line' }, 'listener attempt failed');
    log.error({ event: 'dead-letter', attempts: 6 }, 'dead letter');
    expect(written).toEqual([
      'fete WARN listener attempt failed event=attempt-failed listener=charge-card attempt=1/6 error="Error: bad\\nsecond line"\n',
      'fete ERROR dead letter event=dead-letter attempts=6\n',
    ]);
    expect(formatLine('warn', { a: undefined, b: 'x y' }, 'm')).toBe('fete WARN m b="x y"\n');
  });

  it('refuses a logger without warn/error/info functions with INVALID_OPTIONS', async () => {
    await expect(createFete({ topics, dispatch: 'inline', logger: { warn() {} } as never })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
  });
});
