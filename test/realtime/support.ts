// Shared setup for the realtime tests: a catalogue, a fete with its fanout on a real HTTP server
// on an ephemeral port, raw socket.io-client sockets on `/fete`, and acks as promises.
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll } from 'vitest';
import { createServer, type Server as HttpServer } from 'node:http';
import { io, type Socket } from 'socket.io-client';
import { type Client, type ClientOptions, createClient, socketTransport } from '../../client/index.js';
import { createFete, type Fete } from '../../server/index.js';
import type { AttachOptions, FanoutHandle } from '../../server/fanout/types.js';
import type { FeteOptions } from '../../server/options.js';
import type { SecurityOptions } from '../../server/security/security-options.js';
import { freshSchema } from '../support/postgres.js';
import {
  type EmitAck,
  type Envelope,
  type EvPacket,
  type EvsPacket,
  type GapPacket,
  type SubAck,
  decodeWireEnvelope,
  uuidv7,
} from '../../shared/index.js';
import { topics, type Topics } from './topics.js';
import { closeHttp, listen } from '../support/http-server.js';

export { topics, type Topics };
export { until } from '../support/wait.js';

let shared: PGlite | undefined;
/** One in-memory PGlite for the test file (starting one costs seconds), a fresh schema per fete. */
export function sharePGlite(): void {
  beforeAll(async () => {
    shared = await PGlite.create();
  });
  afterAll(async () => {
    await shared?.close();
    shared = undefined;
  });
}

/** The store a test server opens: the file's shared PGlite (see sharePGlite), else one in memory. */
export function sharedStore(): { pglite: PGlite } | 'memory' {
  return shared ? { pglite: shared } : 'memory';
}

export interface TestServer {
  fete: Fete<Topics>;
  /** The SQL schema of fete's tables. */
  schema: string;
  http: HttpServer;
  fanout: FanoutHandle;
  url: string;
  close(): Promise<void>;
}

/** Attach options plus the fete's security config (auth, authorize, tenant), for brevity. */
export type ServerOptions = AttachOptions<any> & SecurityOptions<any>;

/** A fete (PGlite in memory unless `feteOptions.store` says otherwise) with its fanout listening.
 * Test servers let anonymous callers in (`auth: 'anonymous'`) unless the test gives an `auth`. */
export async function startServer(
  options: ServerOptions = {},
  feteOptions: Partial<FeteOptions<Topics>> = {},
  existing?: Fete<Topics>,
): Promise<TestServer> {
  const { auth, authorize, tenant, ...attach } = options;
  const security: SecurityOptions<any> = { auth: auth ?? 'anonymous', ...(authorize ? { authorize } : {}), ...(tenant ? { tenant } : {}) };
  const schema = feteOptions.schema ?? freshSchema('rt');
  const store = feteOptions.store ?? sharedStore();
  const fete = existing ?? (await createFete({ topics, security, ...feteOptions, store, schema }));
  const http = createServer();
  const fanout = fete.attach(http, { pollIntervalMs: 50, ...attach });
  const url = await listen(http);
  return {
    fete,
    schema,
    http,
    fanout,
    url,
    async close() {
      await fete.stop();
      await closeHttp(http);
    },
  };
}

/** fete's own client in Node, as the realtime tests open it: an IndexedDB of its own (fake-indexeddb),
 * no Web Locks, and Socket.IO reconnecting within a quarter second (its default waits 1 to 5 s,
 * which a test that restarts its server would only sit through). `options` adds to or overrides these. */
export function nodeClient(url: string, options: Partial<ClientOptions<Topics>> = {}): Client<Topics> {
  return createClient({
    url,
    topics,
    indexedDB: new IDBFactory(),
    name: `db-${uuidv7()}`,
    locks: null,
    transport: socketTransport({ reconnectionDelay: 50, reconnectionDelayMax: 250 }),
    ...options,
  });
}

/** A raw protocol client: every `ev` decoded and recorded per sid. */
export class RawClient {
  readonly socket: Socket;
  readonly events = new Map<string, Envelope[]>();
  readonly gaps: GapPacket[] = [];
  /** Every event packet in arrival order: `ev` or `evs`, its sid and the seqs it carried. */
  readonly packets: Array<{ event: 'ev' | 'evs'; sid: string; seqs: number[] }> = [];

  constructor(url: string, auth: Record<string, unknown> = {}, path?: string) {
    this.socket = io(`${url}/fete`, { forceNew: true, transports: ['websocket'], reconnection: false, auth, ...(path ? { path } : {}) });
    this.socket.on('ev', (p: EvPacket) => this.#record('ev', p.sid, [p.e]));
    this.socket.on('evs', (p: EvsPacket) => this.#record('evs', p.sid, p.es));
    this.socket.on('gap', (g: GapPacket) => this.gaps.push(g));
  }

  #record(event: 'ev' | 'evs', sid: string, es: unknown[]): void {
    const list = this.events.get(sid) ?? [];
    const decoded = es.map((e) => decodeWireEnvelope(e));
    list.push(...decoded);
    this.events.set(sid, list);
    this.packets.push({ event, sid, seqs: decoded.map((e) => e.seq!) });
  }

  connected(): Promise<void> {
    if (this.socket.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('connect_error', reject);
    });
  }

  /** Resolves with the handshake refusal (`err.data`), or rejects if the connection succeeds. */
  refused(): Promise<{ message: string; data: unknown }> {
    return new Promise((resolve, reject) => {
      this.socket.once('connect', () => reject(new Error('connected')));
      this.socket.once('connect_error', (err: Error & { data?: unknown }) => resolve({ message: err.message, data: err.data }));
    });
  }

  sub(sid: string, pattern: unknown, from: unknown = 'latest'): Promise<SubAck> {
    return this.socket.timeout(20_000).emitWithAck('sub', { sid, pattern, from });
  }

  emit(packet: unknown): Promise<EmitAck> {
    return this.socket.timeout(20_000).emitWithAck('emit', packet);
  }

  seqs(sid: string): number[] {
    return (this.events.get(sid) ?? []).map((e) => e.seq!);
  }

  close(): void {
    this.socket.disconnect();
  }
}


/** Emits `n` tick events in batches through emitMany. */
export async function emitTicks(fete: Fete<Topics>, from: number, n: number, batch = 500): Promise<void> {
  for (let i = 0; i < n; i += batch) {
    const items = Array.from({ length: Math.min(batch, n - i) }, (_, k) => ({ topic: topics.tick, payload: { n: from + i + k } }));
    await fete.emitMany(items);
  }
}
