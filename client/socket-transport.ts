// The default transport: socket.io-client on the `/fete` namespace. Socket.IO reconnects with its
// own backoff after a lost connection; this file adds what the outbox and subscriptions rely on:
// acks that reject (never hang) on timeout or disconnect, no packet buffered for a later connection,
// ack shapes checked, and a reconnect after the server itself closed the socket.
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import {
  type CmdAck,
  type CmdPacket,
  type CmdResultPacket,
  FETE_NAMESPACE,
  FeteError,
  FeteErrorCode,
  type ClientToServerEvents,
  type EmitAck,
  type EmitPacket,
  type EvPacket,
  type ServerToClientEvents,
  type SubAck,
  type SubPacket,
  type UnsubPacket,
} from '../shared/index.js';
import { backoffDelay } from './backoff.js';
import type { Transport, TransportFactory, TransportHandlers, TransportOptions } from './transport.js';
import { isEmitAck, isPresenceSetAck, isPresenceWatchAck, isSubAck } from './wire.js';
import type { PresenceSetAck, PresenceSetPacket, PresenceUnwatchPacket, PresenceWatchAck, PresenceWatchPacket } from '../shared/index.js';
import { isCmdAck } from './command-ack.js';

/** Socket.IO options passed through (path, transports, reconnection delays...). `auth`,
 * `autoConnect` and `forceNew` are set by fete. */
export type SocketTransportOptions = Partial<Omit<ManagerOptions & SocketOptions, 'auth' | 'autoConnect' | 'forceNew'>>;

type FeteSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** A transport factory with extra Socket.IO options, for `createClient({ transport })`. */
export function socketTransport(socketOptions: SocketTransportOptions = {}): TransportFactory {
  return (options) => new SocketTransport(options, socketOptions);
}

/** `https://host/` -> `https://host/fete`. The URL is the server's origin: Socket.IO reads a path
 * in it as the namespace, and its HTTP path comes from the `path` option. */
export function namespaceUrl(url: string): string {
  return url.replace(/\/+$/, '') + FETE_NAMESPACE;
}

class SocketTransport implements Transport {
  readonly #socket: FeteSocket;
  /** Rejecters of acks in flight, so close() can settle them even though the socket is gone. */
  readonly #pending = new Set<(err: FeteError) => void>();
  #opened = false;
  #closed = false;
  #kicks = 0;
  #kickTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: TransportOptions, socketOptions: SocketTransportOptions) {
    const auth = options.auth;
    this.#socket = io(namespaceUrl(options.url), {
      ...socketOptions,
      autoConnect: false,
      // io() otherwise shares one Manager, and one socket per namespace, between every client of
      // the same origin: closing one client would disconnect the others.
      forceNew: true,
      // Socket.IO calls a function on every connection attempt, so a refreshed token is picked up.
      auth:
        typeof auth === 'function'
          ? (cb: (data: object) => void) => {
              Promise.resolve()
                .then(auth)
                .then(cb, () => cb({}));
            }
          : (auth ?? {}),
    });
  }

  get connected(): boolean {
    return this.#socket.connected;
  }

  open(handlers: TransportHandlers): void {
    if (this.#opened || this.#closed) return;
    this.#opened = true;
    const socket = this.#socket;
    socket.on('connect', () => {
      this.#kicks = 0;
      handlers.connect();
    });
    socket.on('disconnect', (reason) => {
      handlers.disconnect(reason);
      // Socket.IO does not reconnect after the server closed the socket itself (a deploy, an
      // expired session). Try again with backoff: a refused handshake then shows as connectError.
      if (reason === 'io server disconnect') this.#reconnectLater();
    });
    socket.on('connect_error', (err: Error & { data?: unknown }) => {
      handlers.connectError(connectError(err));
      // A handshake refused by the server (a wrong or expired token) ends Socket.IO's own
      // reconnection for good (`active` is false). Try again with a slow backoff instead: `auth`
      // is called on every attempt, so a refreshed token gets in without a new client.
      if (!socket.active) this.#reconnectLater();
    });
    socket.on('ev', (packet) => handlers.ev(packet));
    socket.on('evs', (packet) => (handlers.evs ? handlers.evs(packet) : evsAsEv(packet, handlers)));
    socket.on('gap', (packet) => handlers.gap(packet));
    socket.on('clr', (packet) => handlers.clr?.(packet));
    socket.on('pev', (packet) => handlers.pev?.(packet));
    socket.connect();
  }

  #reconnectLater(): void {
    if (this.#closed) return;
    clearTimeout(this.#kickTimer);
    const delay = backoffDelay(this.#kicks++, { initialDelayMs: 1000, maxDelayMs: 30_000 });
    this.#kickTimer = setTimeout(() => this.#closed || this.#socket.connect(), delay);
  }

  sub(packet: SubPacket, timeoutMs: number): Promise<SubAck> {
    return this.#request('sub', packet, timeoutMs, isSubAck);
  }

  unsub(packet: UnsubPacket): void {
    if (this.#socket.connected) this.#socket.emit('unsub', packet);
  }

  emit(packet: EmitPacket, timeoutMs: number): Promise<EmitAck> {
    return this.#request('emit', packet, timeoutMs, isEmitAck);
  }

  cmd(packet: CmdPacket, timeoutMs: number): Promise<CmdAck> {
    return this.#request('cmd', packet, timeoutMs, isCmdAck);
  }

  cmdResult(packet: CmdResultPacket, timeoutMs: number): Promise<CmdAck> {
    return this.#request('cmdr', packet, timeoutMs, isCmdAck);
  }

  pwatch(packet: PresenceWatchPacket, timeoutMs: number): Promise<PresenceWatchAck> {
    return this.#request('pwatch', packet, timeoutMs, isPresenceWatchAck);
  }

  punwatch(packet: PresenceUnwatchPacket): void {
    if (this.#socket.connected) this.#socket.emit('punwatch', packet);
  }

  pset(packet: PresenceSetPacket, timeoutMs: number): Promise<PresenceSetAck> {
    return this.#request('pset', packet, timeoutMs, isPresenceSetAck);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#kickTimer);
    this.#socket.disconnect();
    this.#socket.removeAllListeners();
    const closed = new FeteError('NETWORK', 'the transport was closed');
    for (const reject of [...this.#pending]) reject(closed);
  }

  #request<A>(event: 'sub' | 'emit' | 'cmd' | 'cmdr' | 'pwatch' | 'pset', packet: SubPacket | EmitPacket | CmdPacket | CmdResultPacket | PresenceWatchPacket | PresenceSetPacket, timeoutMs: number, isAck: (v: unknown) => v is A): Promise<A> {
    // Not connected: fail now. Socket.IO would buffer the packet and send it on the next
    // connection, after the client has already re-sent it itself.
    if (!this.#socket.connected) return Promise.reject(new FeteError('NETWORK', `not connected (${event})`));
    return new Promise<A>((resolve, reject) => {
      let done = false;
      const fail = (err: FeteError) => {
        if (done) return;
        done = true;
        this.#pending.delete(fail);
        reject(err);
      };
      this.#pending.add(fail);
      // With a timeout, Socket.IO calls back with an error both on timeout and on disconnect.
      const callback = (err: Error | null, ack: unknown) => {
        if (done) return;
        if (err) return fail(new FeteError(/timed out/i.test(err.message) ? 'TIMEOUT' : 'NETWORK', `${event}: ${err.message}`, { cause: err }));
        if (!isAck(ack)) return fail(new FeteError('MALFORMED', `${event}: the server's ack has the wrong shape`));
        done = true;
        this.#pending.delete(fail);
        resolve(ack);
      };
      // The typed event map cannot follow a runtime choice of event name; the payloads are checked above.
      (this.#socket.timeout(timeoutMs) as unknown as { emit(ev: string, p: unknown, cb: typeof callback): void }).emit(
        event,
        packet,
        callback,
      );
    });
  }
}

/** An `evs` packet as one `ev` per event, for handlers without `evs`; a malformed one is passed on
 * as is, for the handler to report. */
function evsAsEv(packet: unknown, handlers: TransportHandlers): void {
  const p = packet as { sid?: unknown; es?: unknown } | null;
  if (p === null || typeof p !== 'object' || !Array.isArray(p.es)) return handlers.ev(packet as EvPacket);
  for (const e of p.es as unknown[]) handlers.ev({ sid: p.sid, e } as EvPacket);
}

/** A failed handshake: the server's auth middleware may put `{ code }` in the error's data. */
function connectError(err: Error & { data?: unknown }): FeteError {
  const code = (err.data as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && Object.hasOwn(FeteErrorCode, code))
    return new FeteError(code as FeteErrorCode, err.message, { cause: err });
  return new FeteError('NETWORK', `connection failed: ${err.message}`, { cause: err });
}

export const createSocketTransport: TransportFactory = socketTransport();
