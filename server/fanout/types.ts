// Types of the realtime fanout and of client emits (Socket.IO and the HTTP middleware share them):
// the sender of client emits, `fete.attach` options, and the fanout's counters.
// Vocabulary as in DESIGN.md: principal, pattern, subscription, fanout.
import type { ServerOptions } from 'socket.io';
import type { Caller } from '../security/security.js';
import type { Auth, Authorize } from '../security/security-options.js';

/** Who a connection acts for: whatever `security.auth` returned (a user, a service...). */
export type FanoutPrincipal = unknown;

/** The authentication hook (`createFete({ security: { auth } })`), shared by every door. */
export type FanoutAuth<P = FanoutPrincipal> = Auth<P>;

/** The authorization hooks (`createFete({ security: { authorize } })`), shared by every door. */
export type FanoutAuthorize<P = FanoutPrincipal> = Authorize<P>;

/** What applying client emits needs to know about the sender (`applyClientEmits`). */
export interface ClientEmitContext<P = FanoutPrincipal> {
  /** The authenticated sender: its principal and tenant (the tenant stamped on its events). */
  caller: Caller<P>;
  authorize?: FanoutAuthorize<P> | undefined;
  /** Largest encoded envelope accepted, in UTF-8 bytes. @default 1 MiB (DEFAULT_MAX_ENVELOPE_BYTES) */
  maxPayloadBytes?: number | undefined;
}

/** Options of `fete.attach`. Authentication, authorization and tenants are not here: they are the
 * fete's one `security` config (createFete), the same for Socket.IO and HTTP. */
// eslint-disable-next-line @typescript-eslint/no-unused-vars
export interface AttachOptions<P = FanoutPrincipal> {
  /** Socket.IO's HTTP path. @default '/socket.io' */
  path?: string;
  /** @deprecated Give allowed origins to `createFete({ security: { origins } })`: that one list
   * guards every browser door (this socket and every route of `fete.express()`) and also answers
   * Socket.IO's CORS requests. Kept for older apps: given, it replaces Socket.IO's CORS answers,
   * and its `origin` also admits handshakes from those origins, on this socket door only (the
   * HTTP door knows only `security.origins`). @default derived from `security.origins` */
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
  /** Events the node tail read from the log and routed (each counted once, however many receivers and doors). */
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
  /** Volatile events not sent to a socket that was already too far behind (never replayable). */
  volatileDropped: number;
  /** Connections refused at the handshake. */
  refusedConnections: number;
  /** Emit items accepted, duplicate, rejected over this fanout's sockets. */
  emits: { accepted: number; duplicate: number; rejected: number };
  /** The node tail's position: every event with seq <= this has been routed. The tail is the
   * node's one (fanout/node-tail.ts), shared by every attached fanout and SSE stream: `eventsRouted`,
   * `tailCursor` and `bus` are its counters, the same in every fanout's stats. */
  tailCursor: number;
  /** With the NATS bus (`bus` option): events received over NATS, seqs skipped on a commit
   * notice's word, times messages may have been lost (then the log is read), reads of the log by
   * the node's tail, and the patterns this node has NATS subscriptions for (its sockets' and SSE
   * streams'). Absent without the bus, or before the node's first door. */
  bus?: { received: number; skipped: number; lost: number; reads: number; subscribed: number };
}

/** What `fete.attach` returns. */
export interface FanoutHandle {
  /** The Socket.IO server (for the app's own namespaces and adapters). */
  readonly io: import('socket.io').Server;
  stats(): FanoutStats;
  /** Disconnects every socket and leaves the node's tail (which stops with the fete). Does not
   * close the HTTP server. */
  close(): Promise<void>;
}
