// A stand-in for the LiveChannel factory (server/bus/open-live-channel.ts, built on another branch
// of issue 15), so that presence works and is tested across processes before that lands:
// - `localLiveChannel()`: this process's handlers only (PGlite, inline).
// - `notifyLiveChannel(driver, channel)`: PostgreSQL NOTIFY, every process on the database.
// Both keep the contract of bus/live-channel.ts (own messages delivered synchronously, never
// echoed back, LIVE_TOO_LARGE past NOTIFY's 8000 bytes reported as TOO_LARGE here since that code
// is not in shared/errors.ts on this branch). Replace with openLiveChannel when integrating.
import { randomUUID } from 'node:crypto';
import createDebug from 'debug';
import { FeteError } from '../../shared/index.js';
import type { LiveChannel, LiveMessage } from '../bus/live-channel.js';
import type { Driver } from '../store/driver.js';

const debug = createDebug('fete:presence');

/** PostgreSQL's limit on a NOTIFY payload, in bytes (minus one). */
const MAX_NOTIFY_BYTES = 7999;

class Handlers {
  readonly #byKind = new Map<LiveMessage['kind'], Set<(m: LiveMessage) => void>>();
  readonly #lost = new Set<() => void>();

  on(kind: LiveMessage['kind'], fn: (m: LiveMessage) => void): () => void {
    let set = this.#byKind.get(kind);
    if (!set) this.#byKind.set(kind, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }

  onLost(fn: () => void): () => void {
    this.#lost.add(fn);
    return () => this.#lost.delete(fn);
  }

  deliver(m: LiveMessage): void {
    for (const fn of this.#byKind.get(m.kind) ?? []) {
      try {
        fn(m);
      } catch (err) {
        debug('a live channel handler threw: %s', (err as Error).message);
      }
    }
  }

  lost(): void {
    for (const fn of this.#lost) fn();
  }
}

export function localLiveChannel(): LiveChannel {
  const handlers = new Handlers();
  return {
    transport: 'local',
    publish: (m) => Promise.resolve(handlers.deliver(m)),
    on: (kind, fn) => handlers.on(kind, fn),
    onLost: (fn) => handlers.onLost(fn),
    close: () => Promise.resolve(),
  };
}

export async function notifyLiveChannel(driver: Driver, channel: string): Promise<LiveChannel> {
  const handlers = new Handlers();
  const self = randomUUID();
  let closed = false;
  const unlisten = await driver.listen(
    channel,
    (payload) => {
      let parsed: { from?: unknown; m?: LiveMessage };
      try {
        parsed = JSON.parse(payload) as { from?: unknown; m?: LiveMessage };
      } catch {
        return;
      }
      if (parsed.from === self || !parsed.m || typeof parsed.m !== 'object') return;
      handlers.deliver(parsed.m);
    },
    () => handlers.lost(),
  );
  return {
    transport: 'postgres',
    async publish(m) {
      handlers.deliver(m);
      if (closed) return;
      const text = JSON.stringify({ from: self, m });
      if (Buffer.byteLength(text) > MAX_NOTIFY_BYTES)
        throw new FeteError('TOO_LARGE', `a live message of ${Buffer.byteLength(text)} bytes exceeds PostgreSQL NOTIFY's ${MAX_NOTIFY_BYTES}`);
      try {
        await driver.query('SELECT pg_notify($1, $2)', [channel, text]);
      } catch (err) {
        debug('NOTIFY failed: %s', (err as Error).message);
        handlers.lost();
      }
    },
    on: (kind, fn) => handlers.on(kind, fn),
    onLost: (fn) => handlers.onLost(fn),
    async close() {
      closed = true;
      await unlisten();
    },
  };
}
