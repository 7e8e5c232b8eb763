// The Socket.IO transport against a real Socket.IO server on an ephemeral port. The server here is
// a few lines of protocol stand-in (the real fanout lives in server/), enough to check what the
// client relies on: the /fete namespace, handshake auth, acks, timeouts, drops and reconnection.
import { createServer, type Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClient, socketTransport, type Transport, type TransportHandlers } from '../../client/index.js';
import { namespaceUrl } from '../../client/socket-transport.js';
import {
  FETE_NAMESPACE,
  FeteError,
  decodeEnvelope,
  type ClientToServerEvents,
  type EmitAck,
  type ServerToClientEvents,
} from '../../shared/index.js';
import { topics, until } from './support/helpers.js';
import { listen } from '../support/http-server.js';

let http: HttpServer;
let io: Server<ClientToServerEvents, ServerToClientEvents>;
let url: string;
let sockets: Socket<ClientToServerEvents, ServerToClientEvents>[];
let seq: number;
const transports: Transport[] = [];

beforeEach(async () => {
  http = createServer();
  io = new Server(http);
  sockets = [];
  seq = 0;
  const nsp = io.of(FETE_NAMESPACE);
  nsp.use((socket, next) => {
    if (socket.handshake.auth.token === 'ok') return next();
    next(Object.assign(new Error('bad token'), { data: { code: 'UNAUTHORIZED' } }));
  });
  nsp.on('connection', (socket) => {
    sockets.push(socket);
    socket.on('sub', (packet, ack) => {
      ack({ ok: true, cursor: 0, epoch: 'e1' });
      socket.emit('ev', { sid: packet.sid, e: { json: `hello ${packet.pattern}` } });
    });
    socket.on('emit', (packet, ack) => {
      if (packet[0] === 'hang') return; // never acks
      if (packet[0] === 'garbage') return ack({ nonsense: true } as unknown as EmitAck);
      if (packet[0] === 'drop') return socket.conn.close(); // the connection dies before the ack
      ack({
        ok: true,
        results: packet.map((e) => ({ id: decodeEnvelope(e).id, status: 'accepted' as const, seq: ++seq })),
      });
    });
  });
  url = `${await listen(http)}/`;
});

afterEach(async () => {
  for (const t of transports.splice(0)) t.close();
  await new Promise<void>((r) => io.close(() => r()));
});

function recorder() {
  const log: string[] = [];
  const errors: FeteError[] = [];
  const evs: unknown[] = [];
  const handlers: TransportHandlers = {
    connect: () => log.push('connect'),
    disconnect: (reason) => log.push(`disconnect:${reason}`),
    connectError: (err) => errors.push(err),
    ev: (p) => evs.push(p),
    gap: () => {},
  };
  return { log, errors, evs, handlers };
}

const fast = socketTransport({ reconnectionDelay: 10, reconnectionDelayMax: 50 });

function open(auth: Record<string, unknown> | (() => Promise<Record<string, unknown>>) = { token: 'ok' }) {
  const t = fast({ url, auth });
  transports.push(t);
  const r = recorder();
  t.open(r.handlers);
  return { t, ...r };
}

describe('socket transport', () => {
  it('adds the /fete namespace to the origin', () => {
    expect(namespaceUrl('https://app.example.com/')).toBe('https://app.example.com/fete');
    expect(namespaceUrl('http://localhost:3000')).toBe('http://localhost:3000/fete');
  });

  it('connects with the auth given (a function is called per connection), and acks and events round-trip', async () => {
    const { t, log, evs } = open(async () => ({ token: 'ok' }));
    await until(() => t.connected, 'connected');
    expect(log).toEqual(['connect']);
    await expect(t.sub({ sid: 's0', pattern: 'orders.>', from: 'latest' }, 2000)).resolves.toEqual({ ok: true, cursor: 0, epoch: 'e1' });
    await until(() => evs.length === 1, 'ev');
    expect(evs[0]).toEqual({ sid: 's0', e: { json: 'hello orders.>' } });
  });

  it("reports a refused handshake as connectError with the server's code", async () => {
    const { t, errors } = open({ token: 'nope' });
    await until(() => errors.length > 0, 'connect error');
    expect(errors[0]).toMatchObject({ code: 'UNAUTHORIZED', message: 'bad token' });
    expect(t.connected).toBe(false);
  });

  it('tries a refused handshake again with backoff, calling auth each time, so a refreshed token gets in', async () => {
    let token = 'expired';
    let calls = 0;
    const { t, errors, log } = open(async () => {
      calls++;
      return { token };
    });
    await until(() => errors.length >= 2, 'a second refused attempt');
    expect(errors.every((e) => e.code === 'UNAUTHORIZED')).toBe(true);
    expect(t.connected).toBe(false);
    token = 'ok';
    await until(() => t.connected, 'connected with the refreshed token');
    expect(log).toEqual(['connect']);
    expect(calls).toBeGreaterThanOrEqual(3);
  });

  it('reports a refusal streak once as an error event and keeps it in status.refused until a connection succeeds', async () => {
    let token = 'expired';
    const client = createClient({ url, topics, outbox: 'memory', auth: () => ({ token }), transport: fast });
    const errors: string[] = [];
    const refusedSeen: Array<string | undefined> = [];
    client.on('error', (e) => void errors.push(e.code));
    client.on('status', (s) => void refusedSeen.push(s.refused?.code));
    try {
      await until(() => client.status.refused !== undefined, 'refused');
      expect(client.status).toMatchObject({ connected: false, refused: { code: 'UNAUTHORIZED' } });
      // At least one more refused attempt, handled by the client (each refusal is a new lastError).
      const firstRefusal = client.status.lastError;
      await until(() => client.status.lastError !== firstRefusal, 'one more refused attempt');
      expect(errors).toEqual(['UNAUTHORIZED']);
      token = 'ok';
      await until(() => client.status.connected, 'connected');
      expect(client.status.refused).toBeUndefined();
      expect(refusedSeen).toContain('UNAUTHORIZED');
      expect(refusedSeen.at(-1)).toBeUndefined();
    } finally {
      await client.close();
    }
  });

  it('rejects at once with NETWORK when not connected, buffering nothing', async () => {
    const t = fast({ url, auth: { token: 'ok' } });
    transports.push(t);
    await expect(t.emit(['x'], 1000)).rejects.toMatchObject({ code: 'NETWORK' });
    t.open(recorder().handlers);
    await until(() => t.connected, 'connected');
    expect(sockets).toHaveLength(1);
  });

  it('rejects an ack that never comes with TIMEOUT, and a misshapen ack with MALFORMED', async () => {
    const { t } = open();
    await until(() => t.connected, 'connected');
    await expect(t.emit(['hang'], 50)).rejects.toMatchObject({ code: 'TIMEOUT' });
    await expect(t.emit(['garbage'], 2000)).rejects.toMatchObject({ code: 'MALFORMED' });
  });

  it('rejects acks in flight with NETWORK when the connection drops, then reconnects', async () => {
    const { t, log } = open();
    await until(() => t.connected, 'connected');
    await expect(t.emit(['drop'], 5000)).rejects.toMatchObject({ code: 'NETWORK' });
    await until(() => log.filter((l) => l === 'connect').length === 2, 'reconnected');
    expect(log[1]).toMatch(/^disconnect:/);
  });

  it('close rejects pending acks and stops reconnecting', async () => {
    const { t } = open();
    await until(() => t.connected, 'connected');
    const pending = t.emit(['hang'], 10_000);
    t.close();
    await expect(pending).rejects.toMatchObject({ code: 'NETWORK' });
    expect(t.connected).toBe(false);
  });

  it('carries a client emit to the server and back to a delivered receipt', async () => {
    const client = createClient({ url, topics, auth: { token: 'ok' }, outbox: 'memory', transport: fast });
    try {
      const receipt = await client.emit(topics.note, { n: 1, text: 'over a real socket' });
      await expect(receipt.delivered).resolves.toEqual({ id: receipt.id, seq: 1, duplicate: false });
      expect(client.status.connected).toBe(true);
    } finally {
      await client.close();
    }
  });
});
