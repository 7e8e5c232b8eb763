// The `bus` option at createFete: checked where it is given, and with `required: true` a NATS that
// cannot be reached at start fails createFete with a typed error instead of leaving a half-started
// server behind (by default the node starts on the PostgreSQL fallback: bus-fallback.test.ts).
// A NATS host that does not answer at all (a blackholed address) is played by a local port that
// accepts connections and never sends NATS's INFO: start goes on after `bus.connectTimeoutMs`.
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createFete } from '../../server/index.js';
import { until } from '../realtime/support.js';
import { topics } from '../realtime/topics.js';
import { NatsProxy } from './nats.js';

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
    await expect(createFete({ topics, store: 'memory', bus: { nats: 'nats://127.0.0.1:4222', connectTimeoutMs: 0 } })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
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

  describe('a NATS that accepts connections and never answers (a blackholed host)', () => {
    const silent: NatsProxy[] = [];
    afterEach(async () => {
      for (const p of silent.splice(0)) await p.cut();
    });
    async function silentNats(): Promise<NatsProxy> {
      const p = await NatsProxy.create();
      await p.silence();
      silent.push(p);
      return p;
    }

    it('does not hold createFete: start goes on degraded after connectTimeoutMs, and emits commit', async () => {
      const nats = await silentNats();
      const fete = await createFete({ topics, store: 'memory', logger: false, bus: { nats: nats.url, connectTimeoutMs: 300 } });
      try {
        await fete.start();
        expect((await fete.emit(topics.tick, { n: 1 })).seq).toBeGreaterThan(0);
        const bus = (await fete.stats()).bus!;
        expect(bus).toMatchObject({ state: 'degraded', fallbacks: 1, recoveries: 0 });
        expect(bus.lastError).toContain('did not answer within 300 ms');
      } finally {
        await fete.stop();
      }
    }, 30_000);

    // The NATS client's own handshake timeout defaults to 20 s; the bus's (2 s) is what ends the
    // attempt, and says so.
    it('without connectTimeoutMs, the default bound (2000 ms) ends the attempt: createFete completes, degraded', async () => {
      const nats = await silentNats();
      const fete = await createFete({ topics, store: 'memory', logger: false, bus: { nats: nats.url } });
      try {
        const bus = (await fete.stats()).bus!;
        expect(bus).toMatchObject({ state: 'degraded', fallbacks: 1 });
        expect(bus.lastError).toContain('did not answer within 2000 ms');
      } finally {
        await fete.stop();
      }
    }, 30_000);

    // The client's `timeout` is per server: three silent servers at 60 s each would hold start for
    // three minutes. connectTimeoutMs bounds the whole attempt.
    it('bounds the whole attempt, however many silent servers are listed and whatever their own handshake timeout', async () => {
      const servers = await Promise.all([silentNats(), silentNats(), silentNats()]);
      const fete = await createFete({
        topics,
        store: 'memory',
        logger: false,
        bus: { nats: { servers: servers.map((s) => s.url), timeout: 60_000 }, connectTimeoutMs: 300 },
      });
      try {
        expect((await fete.stats()).bus).toMatchObject({ state: 'degraded', fallbacks: 1 });
      } finally {
        await fete.stop();
      }
    }, 30_000);

    // The NATS client leaves a socket open behind each handshake that times out (nats.js #64):
    // the bus asks it to connect only after a probe of its own got INFO.
    it('retries against a silent NATS leave no socket behind, and stop() completes with none open', async () => {
      const nats = await silentNats();
      const fete = await createFete({ topics, store: 'memory', logger: false, bus: { nats: nats.url, connectTimeoutMs: 300, retryMaxMs: 50 } });
      let most = 0;
      await until(() => {
        most = Math.max(most, nats.connections);
        return nats.accepted >= 4;
      }, 'three retries after the first attempt');
      expect(most).toBeLessThanOrEqual(1);
      await fete.stop();
      // An attempt under way at stop ends at its own bound and closes its socket.
      await until(() => nats.connections === 0, 'no connection left to the silent NATS');
    }, 30_000);

    it('with required: true, fails createFete with NETWORK, naming the timeout', async () => {
      const nats = await silentNats();
      const err = await createFete({ topics, store: 'memory', bus: { nats: nats.url, required: true, connectTimeoutMs: 300 } }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'NETWORK', retryable: true });
      expect(String((err as Error).message)).toContain('connectTimeoutMs');
      expect(String((err as Error).message)).toContain(String(nats.port));
    }, 30_000);
  });
});
