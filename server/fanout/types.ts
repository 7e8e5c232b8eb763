// Types of the realtime fanout and of client emits (Socket.IO and the HTTP middleware share them):
// handshake authentication, authorization hooks, `fete.attach` options, and the fanout's counters.
// Vocabulary as in DESIGN.md: principal, pattern, subscription, fanout.
import type { IncomingMessage } from 'node:http';
import type { ServerOptions } from 'socket.io';
import type { AnyTopic } from '../../shared/index.js';

/** Who a connection acts for: whatever `auth` returned (a user, a service...). */
export type FanoutPrincipal = unknown;

/** Authenticates a handshake (`socket.handshake.auth`, the HTTP upgrade request). Returns the
 * principal; throwing (or returning undefined, null or false) refuses the connection: a FeteError
 * keeps its code on the wire, anything else is refused as UNAUTHORIZED. */
export type FanoutAuth<P = FanoutPrincipal> = (handshakeAuth: Record<string, unknown>, req: IncomingMessage) => P | Promise<P>;

/**
 * Authorization hooks. A hook returns true to allow; false denies with FORBIDDEN; a thrown
 * FeteError keeps its code, any other throw is answered INTERNAL (the client retries it later).
 */
export interface FanoutAuthorize<P = FanoutPrincipal> {
  /** May `principal` subscribe to `pattern`? @default allow every valid pattern (events in the log
   * are visible to every authenticated connection unless this hook narrows them) */
  subscribe?(principal: P, pattern: string): boolean | Promise<boolean>;
  /** May `principal` emit this event? Called with the schema-validated payload, only for catalogue
   * topics declared `clientEmit: true` that are not presentation topics. @default deny */
  emit?(principal: P, topic: AnyTopic, payload: unknown): boolean | Promise<boolean>;
  /** May `principal` run command or query `name` with this input? Called with the input as the
   * handler will get it (validated by the declaration's schema), before anything runs. @default deny */
  command?(principal: P, name: string, input: unknown, kind: 'command' | 'query'): boolean | Promise<boolean>;
}

/** What applying client emits needs to know about the sender (`applyClientEmits`). */
export interface ClientEmitContext<P = FanoutPrincipal> {
  principal: P;
  authorize?: FanoutAuthorize<P> | undefined;
  /** Largest encoded envelope accepted, in UTF-8 bytes. @default 1 MiB (DEFAULT_MAX_ENVELOPE_BYTES) */
  maxPayloadBytes?: number | undefined;
}

export interface AttachOptions<P = FanoutPrincipal> {
  /** Socket.IO's HTTP path. @default '/socket.io' */
  path?: string;
  /** Handshake authentication. @default every connection is accepted with principal `undefined` */
  auth?: FanoutAuth<P>;
  /** Subscribe and emit authorization. @default subscribe: allow; emit: deny */
  authorize?: FanoutAuthorize<P>;
  /** Socket.IO CORS options (browsers on another origin). @default none (same origin only) */
  cors?: ServerOptions['cors'];
  /** Largest envelope accepted from a client, in UTF-8 bytes. Socket.IO's frame limit
   * (`maxHttpBufferSize`) is set from it so that a full emit of this size fits. @default 1 MiB */
  maxPayloadBytes?: number;
  /** Per socket: most events waiting in the socket's write buffer (an `evs` packet counts its
   * events, any other packet one) before a live subscription on it stops being fed from memory and catches up from the log instead (see fanout.ts). @default 1000 */
  maxBufferedEvents?: number;
  /** The tail reads the log this often even without a NOTIFY (a rolled-back append sends none). @default 1000 */
  pollIntervalMs?: number;
  /** Events read from the log per query (tail, replay). @default 500 */
  readPageSize?: number;
  /** Other Socket.IO server options, passed through (transports, pingTimeout...). */
  serverOptions?: Partial<Omit<ServerOptions, 'path' | 'cors'>>;
}

/** Counters of one attached fanout, read by `handle.stats()` and `fete.fanoutStats()`. */
export interface FanoutStats {
  /** Sockets connected to the `/fete` namespace now. */
  sockets: number;
  /** Subscriptions held now, over all sockets. */
  subscriptions: number;
  /** Subscriptions replaying history or catching up from the log now. */
  catchingUp: number;
  /** Events the tail read from the log and routed (each counted once, however many receivers). */
  eventsRouted: number;
  /** Events sent, one per event per subscription (in `ev` or `evs` packets), live and replayed. */
  eventsSent: number;
  /** Events sent (as `eventsSent`) per second over the last 10 seconds. */
  eventsSentPerSecond: number;
  /** Times a slow socket's subscription stopped live delivery and fell back to the log. */
  overflows: number;
  /** Gaps reported to clients because the log could not cover a resume: retention pruned what it
   * asked for, or its cursor was from another log (`reset`) or beyond this one (`ahead`). */
  retentionGaps: number;
  /** Connections refused at the handshake. */
  refusedConnections: number;
  /** Emit items accepted, duplicate, rejected over this fanout's sockets. */
  emits: { accepted: number; duplicate: number; rejected: number };
  /** The tail's position: every event with seq <= this has been routed. */
  tailCursor: number;
}

/** What `fete.attach` returns. */
export interface FanoutHandle {
  /** The Socket.IO server (for the app's own namespaces and adapters). */
  readonly io: import('socket.io').Server;
  stats(): FanoutStats;
  /** Disconnects every socket and stops the tail. Does not close the HTTP server. */
  close(): Promise<void>;
}
