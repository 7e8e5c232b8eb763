// The realtime protocol between the browser client and the server's Socket.IO fanout: event
// names, packet shapes and acks, in one place so both sides type-check against the same contract.
// Client emits carry envelopes as encoded text (encodeEnvelope). Events to the client carry them as
// superjson objects (wire-envelope.ts), serialized once per event for every matching socket and
// decoded by the receiver as untrusted input; events routed together go out together (`evs`).
import type { Cursor } from './cursor.js';
import type { FeteErrorCode } from './errors.js';
import type { WireEnvelope } from './wire-envelope.js';
import type { PresenceEventPacket, PresenceSetAck, PresenceSetPacket, PresenceUnwatchPacket, PresenceWatchAck, PresenceWatchPacket } from './presence.js';

/** The Socket.IO namespace fete mounts. */
export const FETE_NAMESPACE = '/fete';

/** Where a new subscription starts: only new events, the whole retained log, or after a cursor
 * (`<epoch>:<seq>`; a bare seq, as a number or digits, is a seq of the server's current log). */
export type SubscribeFrom = 'latest' | 'earliest' | Cursor | number;

/** A plain error on the wire: a FeteError's code and message, nothing else. */
export interface WireError {
  code: FeteErrorCode;
  message: string;
}

// --- client -> server -------------------------------------------------------------------------

/** `sub`: subscribe `pattern` under the client-chosen id `sid` (unique per socket). */
export interface SubPacket {
  sid: string;
  pattern: string;
  from: SubscribeFrom;
  /** Presence on the subscribed subject (topics declared `presence: true`, a pattern without
   * wildcards): the initial state (`{ state }`, JSON), or `false` to watch without being listed.
   * @default listed, without state */
  presence?: false | { state?: unknown };
}
/** Ack of `sub`: the seq the subscription starts after (events with greater seq follow) in the log
 * `epoch` (every `ev`/`evs` seq of the subscription is a seq of that log). */
export type SubAck = { ok: true; cursor: number; epoch: string } | { ok: false; error: WireError };

/** `unsub`: end subscription `sid`. */
export interface UnsubPacket {
  sid: string;
}

/** `emit`: a batch of encoded envelopes, applied in order; acked per envelope, in the same order. */
export type EmitPacket = string[];

/** The answer for an item of a `delivery: 'log'` topic the server took: `seq` is the event's
 * offset in the log (for a duplicate, the first emit's), a resume cursor's seq. */
export interface EmitAckLogged {
  id: string;
  status: 'accepted' | 'duplicate';
  seq: number;
}

/** The answer for a value of a `delivery: 'latest'` topic the server took: `version` is the version
 * the value got for its subject (1, 2, ...; stale values are dropped by receivers below it). It
 * has no `seq`: the value is in no log. A duplicate (its id was stored lately: a resend after a
 * lost ack) stores nothing and answers the version that id got, when the server still knows it:
 * the process that stored it remembers it for two minutes (its last 10,000 live ids), and any
 * process while the id is still its subject's current value; otherwise (another process, after
 * the value was cleared, expired or replaced) the duplicate has no `version`. */
export type EmitAckLatest = { id: string; status: 'accepted'; version: number } | { id: string; status: 'duplicate'; version?: number };

/** The answer for an event of a `delivery: 'volatile'` topic the server took (sent to who was
 * connected, or a duplicate of an id it sent lately): no `seq`, no `version`, it is stored nowhere. */
export interface EmitAckVolatile {
  id: string;
  status: 'accepted' | 'duplicate';
}

/** An item the server refused; `id` is null when the input was not even an envelope. */
export interface EmitAckRejected {
  id: string | null;
  status: 'rejected';
  error: WireError;
}

/** The answer for an item the server took, by the delivery of its topic. Tell them apart by the
 * field: `'seq' in item` (log), `'version' in item` (latest), neither (volatile, or a latest
 * duplicate whose version the server no longer knows). */
export type EmitAckTaken = EmitAckLogged | EmitAckLatest | EmitAckVolatile;

/** One item of an emit's answer, on every door (the Socket.IO `emit` ack, `POST /emit`'s
 * `results`): taken (EmitAckTaken), or rejected. */
export type EmitAckItem = EmitAckTaken | EmitAckRejected;
/** Ack of `emit`: one item per envelope, or a batch-level error (malformed packet, too many). */
export type EmitAck = { ok: true; results: EmitAckItem[] } | { ok: false; error: WireError };

/** `cmd`: run command or query `name` with `input` (encoded with `encodeValue`). `id` (a UUID) makes
 * a command exactly-once per tenant: a resend with the same id answers the first result. */
export interface CmdPacket {
  id: string;
  name: string;
  input: string;
}
/** A command's failure on the wire; `reason` is the app's own code when `code` is REJECTED. */
export interface CmdError extends WireError {
  reason?: string;
}
/** Ack of `cmd`: the result (encoded with `encodeValue`), or the error. */
export type CmdAck = { ok: true; result: string } | { ok: false; error: CmdError };

/** `cmdr`: the recorded outcome of command `id`, as the socket's principal and tenant ran it (and,
 * with `name`, only if it was that command). Acked like `cmd`: the result, the error the command
 * was recorded with, or NOT_FOUND (never run by this principal in this tenant, still running, or
 * past the server's result window). */
export interface CmdResultPacket {
  id: string;
  name?: string;
}

// --- server -> client -------------------------------------------------------------------------

/** `ev`: one event for subscription `sid`, in seq order per subscription (`toWireEnvelope`). */
export interface EvPacket {
  sid: string;
  e: WireEnvelope;
}

/** `evs`: several events for subscription `sid`, in seq order; the same as one `ev` per element.
 * Sent when the fanout routes several events at once (commits that completed together, a replay
 * page): one packet and one WebSocket frame instead of one per event. */
export interface EvsPacket {
  sid: string;
  es: WireEnvelope[];
}

/** Why a resume could not be covered. `reset`: the cursor is from another log (another epoch: the
 * store was recreated). `ahead`: the cursor is beyond anything this log ever held. `pruned`:
 * retention (or the in-memory log's bound) removed events after the cursor. */
export type GapReason = 'reset' | 'ahead' | 'pruned';

/** `gap`: the log cannot cover what the subscription asked for. `pruned`: events with seq in
 * (`after`, `resumedAt`] may be missing. `reset`/`ahead`: `after` was a seq of another log (or of
 * none); delivery restarts in log `epoch`. Either way delivery continues after `resumedAt`, a seq
 * of log `epoch`; events up to there that are still in the log were sent before the gap. */
export interface GapPacket {
  sid: string;
  reason: GapReason;
  after: number;
  resumedAt: number;
  epoch: string;
}

/** `gap` with reason 'volatile': the socket was too far behind to take them, and `dropped` volatile
 * events of subscription `sid` were not sent (they are never replayed). Sent before the next live
 * event of the subscription. The log's events are not concerned: the cursor does not move. */
export interface VolatileGapPacket {
  sid: string;
  reason: 'volatile';
  dropped: number;
  epoch: string;
}

/** `gap` with reason 'removals': subscription `sid` resumed from a cursor older than the removals
 * of latest values the server keeps (`retention.removalsMs`), or of another log, so it cannot be
 * told which values it holds were removed meanwhile. Sent right after its snapshot of current
 * values: every latest value the subscription holds that the snapshot did not restate is gone.
 * Over SSE: `event: gap` with data `{ "reason": "removals" }`. */
export interface RemovalsGapPacket {
  sid: string;
  reason: 'removals';
  epoch: string;
}

/** Why a `latest` value is gone: removed by `fete.clearLatest` ('cleared'), or older than its
 * topic's `ttlMs` and removed by the server's sweep ('expired'); 'gone': removed while the
 * subscription was away for longer than the server keeps removals (`retention.removalsMs`), one of
 * the two (told by the client after a `removals` gap, never by the server). */
export type LatestClearReason = 'cleared' | 'expired' | 'gone';

/** A `latest` value that is gone: the subject of topic `topic` has no current value any more.
 * `version` is the subject's version of the removal (above the value's): a value of that subject
 * at or below it is older than the removal. */
export interface LatestCleared {
  topic: string;
  subject: string;
  version: number;
  reason: LatestClearReason;
}

/** `clr`: the current value of a subject that subscription `sid` holds (or may hold, on a resume)
 * is gone (LatestCleared). In order with the subscription's `ev`/`evs` packets. Over SSE the same
 * notice is `event: cleared` with the LatestCleared as JSON data. */
export interface ClrPacket extends LatestCleared {
  sid: string;
}

/** Socket.IO event maps, for `Server<ClientToServer, ServerToClient>` and `Socket<ServerToClient, ClientToServer>`. */
export interface ClientToServerEvents {
  sub(packet: SubPacket, ack: (res: SubAck) => void): void;
  unsub(packet: UnsubPacket, ack?: (res: { ok: boolean }) => void): void;
  emit(packet: EmitPacket, ack: (res: EmitAck) => void): void;
  cmd(packet: CmdPacket, ack: (res: CmdAck) => void): void;
  cmdr(packet: CmdResultPacket, ack: (res: CmdAck) => void): void;
  /** Presence (presence.ts): watch members, stop watching, set this connection's state. */
  pwatch(packet: PresenceWatchPacket, ack: (res: PresenceWatchAck) => void): void;
  punwatch(packet: PresenceUnwatchPacket, ack?: (res: { ok: boolean }) => void): void;
  pset(packet: PresenceSetPacket, ack: (res: PresenceSetAck) => void): void;
}
export interface ServerToClientEvents {
  ev(packet: EvPacket): void;
  evs(packet: EvsPacket): void;
  gap(packet: GapPacket | VolatileGapPacket | RemovalsGapPacket): void;
  /** A latest value that is gone (ClrPacket). */
  clr(packet: ClrPacket): void;
  /** A change of a presence watch, after its `pwatch` ack. */
  pev(packet: PresenceEventPacket): void;
}

/** Limits both sides agree on. The server enforces them; the client batches within them. */
export const PROTOCOL_LIMITS = {
  /** Most envelopes in one `emit` packet. */
  maxEmitBatch: 100,
  /** Most subscriptions one socket may hold. */
  maxSubscriptionsPerSocket: 256,
  /** Longest subscription id. */
  maxSidLength: 64,
} as const;
