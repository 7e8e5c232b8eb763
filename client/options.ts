// createClient's options: one interface, each field with its default, and the one place those
// defaults are merged and checked (`resolveOptions`). Browser globals (indexedDB, navigator.locks,
// BroadcastChannel) are read here and only here, so every other file takes them as parameters.
import { DEFAULT_MAX_ENVELOPE_BYTES, FeteError, type TopicCatalog } from '../shared/index.js';
import type { RetryOptions } from './backoff.js';
import type { LockManagerLike } from './leader.js';
import type { OutboxStore } from './outbox-store.js';
import { createSocketTransport } from './socket-transport.js';
import type { ChannelFactory } from './tab-channel.js';
import type { ClientAuth, TransportFactory } from './transport.js';

export interface ClientOptions<C extends TopicCatalog = TopicCatalog> {
  /** The server's origin, e.g. `https://app.example.com` (the `/fete` namespace is added). */
  url: string;
  /** The topic catalogue (`defineTopics`), the same one the server declares. */
  topics: C;
  /** Handshake credentials, or a function called on every (re)connect. @default none */
  auth?: ClientAuth;
  /** Where emits wait for the server's ack: IndexedDB (durable, shared by the origin's tabs), memory
   * (lost on reload; for environments without IndexedDB), or a custom store.
   * @default 'indexeddb' */
  outbox?: 'indexeddb' | 'memory' | OutboxStore;
  /** Names the outbox database, the tabs' lock and channel. Clients of different servers in one
   * origin need different names. @default the url */
  name?: string;
  /** The IndexedDB factory. @default globalThis.indexedDB */
  indexedDB?: IDBFactory;
  /** Web Locks, for electing the tab that drains the shared outbox; `null` makes every client its
   * own leader. @default globalThis.navigator.locks (absent: own leader) */
  locks?: LockManagerLike | null;
  /** Opens the channel the tabs use to wake the leader and pass on outcomes; `null` relies on
   * polling alone. @default name => new BroadcastChannel(name) where it exists */
  broadcastChannel?: ChannelFactory | null;
  /** The connection. @default Socket.IO (`socketTransport()` takes extra Socket.IO options) */
  transport?: TransportFactory;
  /** How long to wait for the server's ack of `sub` or an `emit` batch. @default 10_000 */
  ackTimeoutMs?: number;
  /** Backoff for re-sending emit batches and subscriptions after a failure.
   * @default { initialDelayMs: 500, maxDelayMs: 30_000 } */
  retry?: RetryOptions;
  /** How often tabs look at the shared outbox without being told (lost wake-ups, receipts settled
   * by another tab, the pending count). @default 2_000 */
  pollIntervalMs?: number;
  /** How long the leader keeps outcomes of other tabs' emits for them to read. @default 600_000 */
  resultTtlMs?: number;
  /** Largest event accepted from the server, in UTF-8 bytes, and largest envelope `emit` queues.
   * Emit batches are sized to the server's frame limit derived from it, so keep it no larger than
   * the server's `maxPayloadBytes` (`fete.attach`). @default 1 MiB (DEFAULT_MAX_ENVELOPE_BYTES) */
  maxEnvelopeBytes?: number;
  /** Default buffer of each subscription. Unbounded by default: events come off a network that
   * cannot be paused, and a dropped event is a gap the app must handle; bound it to trade that
   * for memory. @default Infinity */
  bufferSize?: number;
}

export interface ResolvedOptions<C extends TopicCatalog> {
  url: string;
  topics: C;
  auth: ClientAuth | undefined;
  outbox: 'indexeddb' | 'memory' | OutboxStore;
  name: string;
  indexedDB: IDBFactory | undefined;
  locks: LockManagerLike | undefined;
  broadcastChannel: ChannelFactory | undefined;
  transport: TransportFactory;
  ackTimeoutMs: number;
  retry: Required<RetryOptions>;
  pollIntervalMs: number;
  resultTtlMs: number;
  maxEnvelopeBytes: number;
  bufferSize: number;
}

function positive(name: string, value: number): number {
  if (!(typeof value === 'number' && value > 0 && !Number.isNaN(value)))
    throw new FeteError('INVALID_OPTIONS', `${name} must be a positive number, got ${String(value)}`);
  return value;
}

function defaultChannel(): ChannelFactory | undefined {
  const Channel = (globalThis as { BroadcastChannel?: typeof BroadcastChannel }).BroadcastChannel;
  return Channel === undefined ? undefined : (name) => new Channel(name);
}

export function resolveOptions<C extends TopicCatalog>(options: ClientOptions<C>): ResolvedOptions<C> {
  if (options === null || typeof options !== 'object') throw new FeteError('INVALID_OPTIONS', 'createClient needs an options object');
  const { url, topics } = options;
  if (typeof url !== 'string') throw new FeteError('INVALID_OPTIONS', 'url must be a string (the server origin)');
  if (topics === null || typeof topics !== 'object') throw new FeteError('INVALID_OPTIONS', 'topics must be a catalogue (defineTopics)');
  const outbox = options.outbox ?? 'indexeddb';
  const idb = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (outbox === 'indexeddb' && idb === undefined)
    throw new FeteError('INVALID_OPTIONS', "IndexedDB is not available here: pass outbox: 'memory' (emits are then lost on reload)");
  if (typeof outbox === 'string' && outbox !== 'indexeddb' && outbox !== 'memory')
    throw new FeteError('INVALID_OPTIONS', `outbox must be 'indexeddb', 'memory' or a store, got ${JSON.stringify(outbox)}`);
  const locks =
    options.locks === null ? undefined : (options.locks ?? (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks);
  const retry = options.retry ?? {};
  return {
    url,
    topics,
    auth: options.auth,
    outbox,
    name: options.name ?? url,
    indexedDB: idb,
    locks,
    broadcastChannel: options.broadcastChannel === null ? undefined : (options.broadcastChannel ?? defaultChannel()),
    transport: options.transport ?? createSocketTransport,
    ackTimeoutMs: positive('ackTimeoutMs', options.ackTimeoutMs ?? 10_000),
    retry: {
      initialDelayMs: positive('retry.initialDelayMs', retry.initialDelayMs ?? 500),
      maxDelayMs: positive('retry.maxDelayMs', retry.maxDelayMs ?? 30_000),
    },
    pollIntervalMs: positive('pollIntervalMs', options.pollIntervalMs ?? 2_000),
    resultTtlMs: positive('resultTtlMs', options.resultTtlMs ?? 600_000),
    maxEnvelopeBytes: positive('maxEnvelopeBytes', options.maxEnvelopeBytes ?? DEFAULT_MAX_ENVELOPE_BYTES),
    bufferSize: positive('bufferSize', options.bufferSize ?? Infinity),
  };
}
