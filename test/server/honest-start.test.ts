// Forgetting `fete.start()` or mistyping a pattern must not look healthy: /health says 'not
// started' (503 where workers should run, 200 in a web-only process) until start(), and a listener
// on a pattern that no catalogue topic can match is refused with the reason.
import { createServer } from 'node:http';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTopic, defineTopics } from '../../shared/index.js';
import { type DispatchMode, type Fete, createFete } from '../../server/index.js';
import { closeHttp, listen } from '../support/http-server.js';

const topics = defineTopics({
  orderCreated: defineTopic('orders.{orderId}.created', { kind: 'domain', schema: z.object({ orderId: z.string() }) }),
  audit: defineTopic('audit.{kind}', { kind: 'integration', schema: z.object({ kind: z.string() }) }),
});

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function health(fete: Fete<typeof topics, DispatchMode>): Promise<{ status: number; body: Record<string, unknown> }> {
  const server = createServer(express().use('/fete', fete.express()));
  const url = await listen(server);
  try {
    const res = await fetch(`${url}/fete/health`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  } finally {
    await closeHttp(server);
  }
}

describe('/health before start()', () => {
  it("answers 503 'not started' in a process with the worker role until start(), then 200 ok", async () => {
    const fete = await createFete({ topics, store: 'memory', logger: false, security: { auth: 'anonymous' } });
    cleanups.push(() => fete.stop());
    fete.on(topics.orderCreated, 'charge', () => undefined);
    expect(await health(fete)).toMatchObject({ status: 503, body: { status: 'not started', worker: { started: false, dispatcher: 'idle' } } });
    await fete.start();
    expect(await health(fete)).toMatchObject({ status: 200, body: { status: 'ok', worker: { started: true, dispatcher: 'running' } } });
  });

  it("answers 200 'not started' in a web-only process (its workers run elsewhere)", async () => {
    const fete = await createFete({ topics, dispatch: 'inline', roles: ['web'], logger: false, security: { auth: 'anonymous' } });
    cleanups.push(() => fete.stop());
    expect(await health(fete)).toMatchObject({ status: 200, body: { status: 'not started', worker: { started: false, dispatcher: 'off' } } });
  });
});

describe('fete.on with a pattern', () => {
  it('refuses a pattern that matches no catalogue topic with UNKNOWN_TOPIC, naming the topics', async () => {
    const fete = await createFete({ topics, dispatch: 'inline', logger: false });
    cleanups.push(() => fete.stop());
    for (const pattern of ['ordrs.>', 'orders.*', 'orders.*.created.x', 'audit'])
      expect(() => fete.on(pattern as never, 'typo', () => undefined)).toThrowError(
        expect.objectContaining({ code: 'UNKNOWN_TOPIC', message: expect.stringContaining('orders.{orderId}.created, audit.{kind}') }),
      );
    // Patterns some topic can match are accepted.
    for (const pattern of ['orders.>', 'orders.*.created', '>', '*.*', 'audit.login']) fete.on(pattern as never, `ok ${pattern}`, () => undefined);
  });

  it('still refuses an invalid pattern with INVALID_PATTERN', async () => {
    const fete = await createFete({ topics, dispatch: 'inline', logger: false });
    cleanups.push(() => fete.stop());
    expect(() => fete.on('orders.>.x' as never, 'bad', () => undefined)).toThrowError(expect.objectContaining({ code: 'INVALID_PATTERN' }));
  });
});
