// The `bus` option at createFete: checked where it is given, and with `required: true` a NATS that
// cannot be reached at start fails createFete with a typed error instead of leaving a half-started
// server behind (by default the node starts on the PostgreSQL fallback: bus-fallback.test.ts).
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createFete } from '../../server/index.js';
import { topics } from '../realtime/topics.js';

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('the bus option', () => {
  it('is refused with the in-memory log of dispatch inline, and without a nats server', async () => {
    await expect(createFete({ topics, dispatch: 'inline', bus: { nats: 'nats://127.0.0.1:4222' } })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    await expect(createFete({ topics, store: 'memory', bus: {} as never })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    await expect(createFete({ topics, store: 'memory', bus: { nats: 'nats://127.0.0.1:4222', prefix: 'a.*' } })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    await expect(createFete({ topics, store: 'memory', bus: { nats: 'nats://127.0.0.1:4222', pollIntervalMs: 0 } })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    await expect(createFete({ topics, store: 'memory', bus: { nats: 'nats://127.0.0.1:4222', required: 'yes' as never } })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    await expect(createFete({ topics, store: 'memory', bus: { nats: 'nats://127.0.0.1:4222', retryMaxMs: 0 } })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    // Options the NATS client refuses are not retried in the background: no attempt would help.
    await expect(createFete({ topics, store: 'memory', bus: { nats: 'not a url::' } })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
  });

  it('by default, createFete and start succeed with NATS unreachable: the bus is degraded, emits commit', async () => {
    const port = await closedPort();
    const fete = await createFete({ topics, store: 'memory', logger: false, bus: { nats: `nats://127.0.0.1:${port}` } });
    try {
      await fete.start();
      expect((await fete.emit(topics.tick, { n: 1 })).seq).toBeGreaterThan(0);
      expect((await fete.stats()).bus).toMatchObject({ state: 'degraded', fallbacks: 1, recoveries: 0 });
    } finally {
      await fete.stop();
    }
  }, 30_000);

  it('with required: true, fails createFete with NETWORK when NATS cannot be reached at start', async () => {
    const port = await closedPort();
    const err = await createFete({ topics, store: 'memory', bus: { nats: `nats://127.0.0.1:${port}`, required: true } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NETWORK' });
    expect(String((err as Error).message)).toContain(String(port));
  }, 30_000);
});
