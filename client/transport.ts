// The client's connection to the server, as a small interface: the rest of the client speaks the
// protocol (shared/protocol.ts) through it and never sees Socket.IO. The default implementation is
// socket-transport.ts; tests plug in an in-memory double of the protocol (NATS.js injects its
// transport the same way).
import type { ClrPacket, CmdAck, CmdPacket, CmdResultPacket, EmitAck, EmitPacket, EvPacket, EvsPacket, GapPacket, SubAck, VolatileGapPacket, RemovalsGapPacket, SubPacket, UnsubPacket } from '../shared/index.js';
import type { PresenceEventPacket, PresenceSetAck, PresenceSetPacket, PresenceUnwatchPacket, PresenceWatchAck, PresenceWatchPacket } from '../shared/index.js';
import type { FeteError } from '../shared/index.js';

/** Handshake credentials: a value, or a function called on every (re)connect (token refresh). */
export type ClientAuth = Record<string, unknown> | (() => Record<string, unknown> | Promise<Record<string, unknown>>);

/** What the transport reports. Called synchronously from its event source; must not throw. */
export interface TransportHandlers {
  /** A connection is up (first time or after a reconnect): subscriptions must be sent again. */
  connect(): void;
  /** The connection is gone; the transport keeps reconnecting until `close()`. */
  disconnect(reason: string): void;
  /** A connection attempt failed (unreachable, or the server's auth refused the handshake). */
  connectError(error: FeteError): void;
  ev(packet: EvPacket): void;
  /** Several events of one subscription, in seq order. Optional for handlers written before
   * `evs` existed (a wrapping transport): the transport then reports them as one `ev` each. */
  evs?(packet: EvsPacket): void;
  gap(packet: GapPacket | VolatileGapPacket | RemovalsGapPacket): void;
  /** A latest value that is gone. Optional for handlers written before clears. */
  clr?(packet: ClrPacket): void;
  /** A presence change of a watch. Optional for handlers written before presence. */
  pev?(packet: PresenceEventPacket): void;
}

export interface Transport {
  readonly connected: boolean;
  /** Starts connecting, and reconnecting with backoff after every drop, until `close()`. Once. */
  open(handlers: TransportHandlers): void;
  /** Sends `sub` and resolves with the server's ack. Rejects FeteError NETWORK when not connected
   * or when the connection drops before the ack, TIMEOUT when no ack comes within `timeoutMs`,
   * MALFORMED when the ack has the wrong shape. Never buffers a packet for a later connection. */
  sub(packet: SubPacket, timeoutMs: number): Promise<SubAck>;
  /** Sends `unsub` if connected; fire and forget (a dropped connection ends every subscription). */
  unsub(packet: UnsubPacket): void;
  /** Sends one `emit` batch and resolves with the server's ack; rejects as `sub` does. */
  emit(packet: EmitPacket, timeoutMs: number): Promise<EmitAck>;
  /** Sends one `cmd` (a command or query call) and resolves with the server's ack; rejects as
   * `sub` does. Optional for transports written before commands: `execute` then fails NETWORK. */
  cmd?(packet: CmdPacket, timeoutMs: number): Promise<CmdAck>;
  /** Sends one `cmdr` (a command's recorded result) and resolves with the server's ack; rejects as
   * `sub` does. Optional: without it `commandResult` knows only this client's queued commands. */
  cmdResult?(packet: CmdResultPacket, timeoutMs: number): Promise<CmdAck>;
  /** Sends `pwatch` and resolves with the server's ack; rejects as `sub` does. Optional for
   * transports written before presence: `client.presence` then fails INVALID_OPTIONS. */
  pwatch?(packet: PresenceWatchPacket, timeoutMs: number): Promise<PresenceWatchAck>;
  /** Sends `punwatch` if connected; fire and forget. */
  punwatch?(packet: PresenceUnwatchPacket): void;
  /** Sends `pset` and resolves with the server's ack; rejects as `sub` does. */
  pset?(packet: PresenceSetPacket, timeoutMs: number): Promise<PresenceSetAck>;
  /** Disconnects for good and rejects every pending ack with NETWORK. Idempotent. */
  close(): void;
}

export interface TransportOptions {
  /** The server's origin (`https://app.example.com`); the transport adds the `/fete` namespace. */
  url: string;
  auth: ClientAuth | undefined;
}

export type TransportFactory = (options: TransportOptions) => Transport;
