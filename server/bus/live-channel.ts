// The live channel: messages between the processes of one fete deployment that do not go through
// the log (volatile events, latest-value changes, presence). Best effort and at most once: a
// message sent while a process is disconnected is lost to it, and a receiver learns of that through
// `onLost` (it then re-reads what it can from the store: the current latest values, the presence
// table). Durable events never travel here: they are in the log, and the log's tail (or the NATS
// bus of bus/, which carries them with their seq and fills gaps from the store) delivers them.
//
// Implementations:
// - local (one process: PGlite, the in-memory log, or PostgreSQL with a single process): a message
//   reaches this process's own handlers only.
// - postgres (NOTIFY on a channel of the store's schema): every process on the same database.
// - nats (`createFete({ bus: { nats } })`): every process on the same NATS, narrowed by subject,
//   with the store's channel as its fallback (fallback-live-channel.ts), which also carries the
//   others' messages to a process cut off from NATS while that lasts.
//
// The sending process delivers its own messages to itself directly (no round trip): `publish`
// calls local handlers synchronously before it hands the message to the transport, and a
// transport never hands a process its own messages back.

/** One message on the live channel. `data` is JSON-safe (already in wire form). */
export interface LiveMessage {
  /** What it carries: a volatile event, a latest value, a presence change; `bus`: the NATS bus's
   * own notice that a node is on its fallback (fallback-live-channel.ts; never sent on NATS). */
  kind: 'volatile' | 'latest' | 'presence' | 'bus';
  /** The tenant it belongs to ('' is the default tenant). Receivers deliver it to that tenant only. */
  tenant: string;
  /** The fete subject it concerns (`orders.42.status`). Transports may route by it. */
  subject: string;
  /** The payload, JSON-safe (a wire envelope, a presence record...). */
  data: unknown;
  /** Set when one message is sent on two transports (a node with the NATS bus while another node
   * is cut off from NATS: fallback-live-channel.ts); a receiver delivers one copy per id. Every
   * transport carries it as it is. */
  id?: string | undefined;
}

export interface LiveChannel {
  /** Which transport carries messages to other processes. */
  readonly transport: 'local' | 'postgres' | 'nats';
  /** The largest message the transport carries, in UTF-8 bytes of `JSON.stringify(message)` plus
   * its own framing; undefined when unbounded (local). Emitters check it before any effect (a
   * latest value is not upserted if its change cannot be sent), so LIVE_TOO_LARGE is thrown at
   * the emit with nothing done. */
  readonly maxMessageBytes: number | undefined;
  /** Delivers `message` to this process's handlers at once, then to other processes'.
   * Throws LIVE_TOO_LARGE (FeteError) when the transport cannot carry it (PostgreSQL NOTIFY
   * payloads are limited to 8000 bytes). Transport faults are reported through `onLost`, not thrown. */
  publish(message: LiveMessage): Promise<void>;
  /** Handles messages of `kind`, from this process and the others. Returns the unsubscribe. */
  on(kind: LiveMessage['kind'], fn: (message: LiveMessage) => void): () => void;
  /** Called when messages from other processes may have been missed (reconnect, slow consumer):
   * re-read from the store what a missed message would have changed. Returns the unsubscribe. */
  onLost(fn: () => void): () => void;
  /** Stops listening; later publishes reach local handlers only. */
  close(): Promise<void>;
}
