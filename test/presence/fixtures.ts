// The catalogue, security config and raw protocol client of the presence tests. The test server
// serves both doors: Socket.IO (`attach`) and HTTP (`fete.express()` under /fete).
import { createServer, type Server as HttpServer } from 'node:http';
import express from 'express';
import { afterEach } from 'vitest';
import { io, type Socket } from 'socket.io-client';
import { createFete, type Fete } from '../../server/index.js';
import type { FeteOptions } from '../../server/options.js';
import type { FanoutHandle } from '../../server/fanout/types.js';
import type { FeteRouter } from '../../server/http/index.js';
import type { SecurityOptions } from '../../server/security/security-options.js';
import { topics, type Topics } from './catalogue.js';
import { type PresenceChange, type PresenceEventPacket, type PresenceMember, type PresenceSetAck, type PresenceWatchAck, type SubAck } from '../../shared/index.js';
import { closeHttp, listen } from '../support/http-server.js';

export { topics, type Topics };
export { until } from '../support/wait.js';

/** Who a test connection is: `user` (internal id), `handle` (public), `tenant`. */
export interface TestPrincipal {
  user: string;
  handle: string;
  tenant: string;
  secret: string;
}

/** Credentials `{ user, tenant }` (over HTTP: the `x-user` and `x-tenant` headers); the public id
 * is `@<user>`; `secret` must never leak. */
export const security: SecurityOptions<TestPrincipal> = {
  auth: (req) => {
    const user = req.credentials.user ?? req.headers['x-user'];
    if (typeof user !== 'string') return undefined;
    const rawTenant = req.credentials.tenant ?? req.headers['x-tenant'];
    const tenant = typeof rawTenant === 'string' ? rawTenant : '';
    return { user, handle: `@${user}`, tenant, secret: `secret-of-${user}` };
  },
  tenant: (p) => p.tenant,
  publicId: (p) => (p.user === 'ghost' ? undefined : p.handle),
  authorize: { subscribe: (p, pattern) => !(pattern.includes('vault') && p.user !== 'admin') },
};

export interface PresenceServer {
  fete: Fete<Topics>;
  fanout: FanoutHandle;
  url: string;
  /** The fete's Express router (`fete.express()`), mounted at `${url}/fete`. */
  router: FeteRouter;
  http: HttpServer;
  close(): Promise<void>;
}

export async function startPresenceServer(feteOptions: Partial<FeteOptions<Topics>> & Pick<FeteOptions<Topics>, 'store' | 'schema'>): Promise<PresenceServer> {
  const fete = await createFete({ topics, security, presence: { heartbeatMs: 50, ttlMs: 300 }, ...feteOptions });
  const router = fete.express({ stream: { pollIntervalMs: 50, heartbeatMs: 1000 }, metrics: 'public' });
  const http = createServer(express().use('/fete', router));
  const fanout = fete.attach(http);
  const url = await listen(http);
  return {
    fete,
    fanout,
    url,
    router,
    http,
    async close() {
      await fete.stop();
      await closeHttp(http);
    },
  };
}

/** A change as recorded by the raw client: one per element of a `pev` packet's `changes`. */
export type RecordedChange = PresenceChange & { wid: string };

/** A raw protocol client: the changes of `pev` packets recorded per watch id. */
export class PresenceClient {
  readonly socket: Socket;
  readonly pevs = new Map<string, RecordedChange[]>();
  /** `pev` packets received (each may carry several changes). */
  packets = 0;

  constructor(url: string, credentials: Record<string, unknown>) {
    this.socket = io(`${url}/fete`, { forceNew: true, transports: ['websocket'], reconnection: false, auth: credentials });
    this.socket.on('pev', (p: PresenceEventPacket) => {
      this.packets++;
      const list = this.pevs.get(p.wid) ?? [];
      for (const c of p.changes) list.push({ wid: p.wid, ...c });
      this.pevs.set(p.wid, list);
    });
  }

  connected(): Promise<void> {
    if (this.socket.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('connect_error', reject);
    });
  }

  sub(sid: string, pattern: string, presence?: unknown): Promise<SubAck> {
    return this.socket.timeout(10_000).emitWithAck('sub', { sid, pattern, from: 'latest', ...(presence === undefined ? {} : { presence }) });
  }

  unsub(sid: string): Promise<{ ok: boolean }> {
    return this.socket.timeout(10_000).emitWithAck('unsub', { sid });
  }

  watch(wid: string, pattern: unknown): Promise<PresenceWatchAck> {
    return this.socket.timeout(10_000).emitWithAck('pwatch', { wid, pattern });
  }

  set(sid: string, state: unknown): Promise<PresenceSetAck> {
    return this.socket.timeout(10_000).emitWithAck('pset', { sid, state });
  }

  events(wid: string): RecordedChange[] {
    return this.pevs.get(wid) ?? [];
  }

  close(): void {
    this.socket.disconnect();
  }
}

/** Members as `subject id×connections`, for compact assertions. */
export function brief(members: readonly PresenceMember[]): string[] {
  return members.map((m) => `${m.subject} ${m.id}x${m.connections}`);
}


/** The servers, clients and other readers of one suite, all closed after each test: `server(extra)`
 * starts a presence server on `store()` with `extra` options, `client(s, credentials)` connects a
 * PresenceClient to it, `track(x)` closes `x` too (before the clients and servers). */
export function presenceScope(store: () => Partial<FeteOptions<Topics>> & Pick<FeteOptions<Topics>, 'store' | 'schema'>) {
  const servers: PresenceServer[] = [];
  const clients: PresenceClient[] = [];
  const others: Array<{ close(): void }> = [];
  afterEach(async () => {
    for (const r of others.splice(0)) r.close();
    for (const c of clients.splice(0)) c.close();
    for (const s of servers.splice(0)) await s.close();
  });
  return {
    async server(extra: Partial<FeteOptions<Topics>> = {}): Promise<PresenceServer> {
      const s = await startPresenceServer({ ...store(), ...extra });
      servers.push(s);
      return s;
    },
    async client(s: PresenceServer, credentials: Record<string, unknown>): Promise<PresenceClient> {
      const c = new PresenceClient(s.url, credentials);
      clients.push(c);
      await c.connected();
      return c;
    },
    track<T extends { close(): void }>(x: T): T {
      others.push(x);
      return x;
    },
  };
}
