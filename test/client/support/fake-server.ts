// A test double of the fete *protocol* (shared/protocol.ts), not of the client: an in-memory server
// with a log (seqs), dedupe by envelope id, per-envelope acks, subscriptions with resume from a
// cursor (gap when pruned history cannot cover it), and in-order async delivery per connection. Its
// transports implement the client's Transport interface exactly as the Socket.IO one does: acks
// reject with NETWORK when the connection drops, nothing is buffered across connections, and a
// dropped transport reconnects when the server accepts connections again.
//
// Faults are explicit: drop every connection, refuse connections, fail the next emit batch or one
// of its items (later items then fail too, as the real server must), apply a batch and lose its ack.
import {
  FeteError,
  PROTOCOL_LIMITS,
  createEnvelope,
  decodeEnvelope,
  encodeEnvelope,
  toWireEnvelope,
  isValidPattern,
  matches,
  topicByName,
  validatePayloadSync,
  type AnyTopic,
  type EmitAck,
  type EmitAckItem,
  type Envelope,
  type GapPacket,
  type InputOf,
  type SubAck,
  type SubPacket,
  type TopicCatalog,
  type WireError,
} from '../../../shared/index.js';
import { parseCursor } from '../../../shared/index.js';

/** The epoch of the fake server's log. */
export const FAKE_EPOCH = 'fake';
import type { Transport, TransportFactory, TransportHandlers, TransportOptions } from '../../../client/transport.js';

export interface FakeServerOptions {
  topics: TopicCatalog;
  /** Refuses an envelope for good (auth, business rule): return the error. */
  reject?: (envelope: Envelope) => WireError | undefined;
  /** Refuses a subscription: return the error. */
  refuseSubscribe?: (pattern: string) => WireError | undefined;
  /** A sloppy at-least-once server: a resume also re-sends this many events at or before the cursor. */
  replayOverlap?: number;
}

export interface EmitPacketRecord {
  /** The label of the client (its handshake `auth.label`) that sent the packet. */
  from: string;
  /** Envelope ids in packet order (null where an envelope did not decode). */
  ids: (string | null)[];
}

class Connection {
  open = true;
  readonly subs = new Map<string, string>(); // sid -> pattern
  constructor(
    readonly transport: FakeTransport,
    readonly label: string,
  ) {}

  /** In-order, asynchronous delivery; nothing arrives once the connection is closed. */
  send(deliver: () => void): void {
    queueMicrotask(() => {
      if (this.open) deliver();
    });
  }
}

export class FakeFeteServer {
  /** Every event ever appended, in seq order (pruning only limits replay). */
  readonly log: Envelope[] = [];
  readonly emitPackets: EmitPacketRecord[] = [];
  readonly subPackets: (SubPacket & { by: string })[] = [];
  readonly handshakes: Record<string, unknown>[] = [];
  readonly #o: FakeServerOptions;
  readonly #byId = new Map<string, number>();
  readonly #transports = new Set<FakeTransport>();
  #accepting = true;
  #firstRetained = 1;
  #batchFaults: WireError[] = [];
  #itemFaults: { index: number; error: WireError }[] = [];
  #lostAcks = 0;

  constructor(options: FakeServerOptions) {
    this.#o = options;
  }

  /** The client's `transport` option. */
  readonly transport: TransportFactory = (options) => new FakeTransport(this, options);

  get head(): number {
    return this.log.length;
  }

  /** Ids in the log, in seq order. */
  get ids(): string[] {
    return this.log.map((e) => e.id);
  }

  get connections(): number {
    let n = 0;
    for (const t of this.#transports) if (t.connected) n++;
    return n;
  }

  // ---- faults ----

  /** Drops every connection; transports reconnect at once if the server accepts connections. */
  dropAll(): void {
    for (const t of this.#transports) t.drop();
  }

  /** Refuse (false) or accept (true) connections; accepting reconnects waiting transports. */
  setAccepting(accepting: boolean): void {
    this.#accepting = accepting;
    if (accepting) for (const t of this.#transports) t.tryConnect();
  }

  get accepting(): boolean {
    return this.#accepting;
  }

  /** The next emit packet is refused as a whole with `error` (nothing applied). */
  failNextBatch(error: WireError): void {
    this.#batchFaults.push(error);
  }

  /** In the next emit packet, items before `index` apply and the rest are rejected with `error`. */
  failNextItem(index: number, error: WireError): void {
    this.#itemFaults.push({ index, error });
  }

  /** The next emit packet is applied, then its connection drops before the ack is sent. */
  loseNextAck(): void {
    this.#lostAcks++;
  }

  /** Forgets events up to `seq` for replay (retention). */
  prune(seq: number): void {
    this.#firstRetained = Math.max(this.#firstRetained, seq + 1);
  }

  /** Sends a raw packet to every connection (malformed input, stray events). */
  sendRaw(event: 'ev' | 'evs' | 'gap', packet: unknown): void {
    for (const t of this.#transports) {
      const conn = t.connection;
      if (conn) conn.send(() => t.handlers?.[event]?.(packet as never));
    }
  }

  /** Subscriptions held by connected clients: [label, sid, pattern]. */
  subscriptions(): [string, string, string][] {
    const out: [string, string, string][] = [];
    for (const t of this.#transports) for (const [sid, pattern] of t.connection?.subs ?? []) out.push([t.connection!.label, sid, pattern]);
    return out;
  }

  // ---- server-side emit ----

  publish<T extends AnyTopic>(topic: T, payload: InputOf<T>): Envelope {
    return this.#append(createEnvelope(topic, payload));
  }

  // ---- protocol ----

  attach(t: FakeTransport): void {
    this.#transports.add(t);
  }

  detach(t: FakeTransport): void {
    this.#transports.delete(t);
  }

  handshake(auth: Record<string, unknown>): boolean {
    if (!this.#accepting) return false;
    this.handshakes.push(auth);
    return true;
  }

  handleSub(conn: Connection, packet: SubPacket, ack: (a: SubAck) => void): void {
    const { sid, pattern, from } = packet;
    this.subPackets.push({ ...packet, by: conn.label });
    if (!isValidPattern(pattern)) return ack({ ok: false, error: { code: 'INVALID_PATTERN', message: `bad pattern ${pattern}` } });
    const refused = this.#o.refuseSubscribe?.(pattern);
    if (refused) return ack({ ok: false, error: refused });
    // 'earliest' is the retained log, no gap; a cursor before it has lost events.
    const position = from === 'latest' || from === 'earliest' ? undefined : parseCursor(from)!;
    let cursor = from === 'latest' ? this.head : from === 'earliest' ? this.#firstRetained - 1 : position!.seq;
    let gap: GapPacket | undefined;
    if (cursor < this.#firstRetained - 1) {
      gap = { sid, reason: 'pruned', after: cursor, resumedAt: this.#firstRetained - 1, epoch: FAKE_EPOCH };
      cursor = this.#firstRetained - 1;
    }
    conn.subs.set(sid, pattern);
    ack({ ok: true, cursor, epoch: FAKE_EPOCH });
    const t = conn.transport;
    if (gap) conn.send(() => t.handlers?.gap(gap));
    const replayFrom = position !== undefined ? Math.max(this.#firstRetained - 1, cursor - (this.#o.replayOverlap ?? 0)) : cursor;
    for (const env of this.log.slice(replayFrom)) if (matches(pattern, env.subject)) this.#sendEv(conn, sid, env);
  }

  handleUnsub(conn: Connection, sid: string): void {
    conn.subs.delete(sid);
  }

  handleEmit(conn: Connection, packet: string[], ack: (a: EmitAck) => void): void {
    this.emitPackets.push({ from: conn.label, ids: packet.map(idOf) });
    if (!Array.isArray(packet) || packet.length === 0 || packet.length > PROTOCOL_LIMITS.maxEmitBatch)
      return ack({ ok: false, error: { code: 'MALFORMED', message: 'bad emit packet' } });
    const batchFault = this.#batchFaults.shift();
    if (batchFault) return ack({ ok: false, error: batchFault });
    const itemFault = this.#itemFaults.shift();
    const results: EmitAckItem[] = packet.map((text, i) =>
      itemFault !== undefined && i >= itemFault.index
        ? { id: idOf(text), status: 'rejected', error: itemFault.error }
        : this.#applyOne(text),
    );
    if (this.#lostAcks > 0) {
      this.#lostAcks--;
      conn.transport.drop();
      return;
    }
    ack({ ok: true, results });
  }

  #applyOne(text: string): EmitAckItem {
    let env: Envelope;
    try {
      env = decodeEnvelope(text);
    } catch (err) {
      return { id: null, status: 'rejected', error: wire(err) };
    }
    const topic = topicByName(this.#o.topics, env.topic);
    if (!topic) return { id: env.id, status: 'rejected', error: { code: 'UNKNOWN_TOPIC', message: `unknown topic ${env.topic}` } };
    if (!topic.clientEmit) return { id: env.id, status: 'rejected', error: { code: 'FORBIDDEN', message: 'not clientEmit' } };
    try {
      validatePayloadSync(topic, env.payload);
    } catch (err) {
      return { id: env.id, status: 'rejected', error: wire(err) };
    }
    const seen = this.#byId.get(env.id);
    if (seen !== undefined) return { id: env.id, status: 'duplicate', seq: seen };
    const refused = this.#o.reject?.(env);
    if (refused) return { id: env.id, status: 'rejected', error: refused };
    return { id: env.id, status: 'accepted', seq: this.#append(env).seq! };
  }

  #append(env: Envelope): Envelope {
    const stored = { ...env, seq: this.log.length + 1 };
    this.log.push(stored);
    this.#byId.set(stored.id, stored.seq);
    for (const t of this.#transports) {
      const conn = t.connection;
      if (!conn) continue;
      for (const [sid, pattern] of conn.subs) if (matches(pattern, stored.subject)) this.#sendEv(conn, sid, stored);
    }
    return stored;
  }

  #sendEv(conn: Connection, sid: string, env: Envelope): void {
    const e = toWireEnvelope(env);
    conn.send(() => conn.transport.handlers?.ev({ sid, e }));
  }
}

function idOf(text: string): string | null {
  try {
    return decodeEnvelope(text).id;
  } catch {
    return null;
  }
}

function wire(err: unknown): WireError {
  const e = FeteError.from(err);
  return { code: e.code, message: e.message };
}

/** The client's end of a fake connection. */
export class FakeTransport implements Transport {
  readonly #server: FakeFeteServer;
  readonly #auth: Record<string, unknown>;
  readonly #pending = new Set<(err: FeteError) => void>();
  handlers: TransportHandlers | undefined;
  connection: Connection | undefined;
  #connecting = false;
  #closed = false;

  constructor(server: FakeFeteServer, options: TransportOptions) {
    this.#server = server;
    this.#auth = typeof options.auth === 'object' ? options.auth : {};
  }

  get connected(): boolean {
    return this.connection?.open === true;
  }

  get label(): string {
    return String(this.#auth.label ?? '?');
  }

  open(handlers: TransportHandlers): void {
    this.handlers = handlers;
    this.#server.attach(this);
    this.tryConnect();
  }

  /** Connects asynchronously if the server accepts; otherwise waits for setAccepting(true). */
  tryConnect(): void {
    if (this.#closed || this.connected || this.#connecting || !this.handlers) return;
    this.#connecting = true;
    queueMicrotask(() => {
      this.#connecting = false;
      if (this.#closed || this.connected) return;
      if (!this.#server.handshake(this.#auth)) {
        this.handlers!.connectError(new FeteError('NETWORK', 'connection refused (fake server not accepting)'));
        return;
      }
      this.connection = new Connection(this, this.label);
      this.handlers!.connect();
    });
  }

  /** The connection is lost: pending acks fail, the client hears a disconnect, then reconnection. */
  drop(): void {
    const conn = this.connection;
    if (!conn?.open) return;
    conn.open = false;
    this.connection = undefined;
    this.#failPending(new FeteError('NETWORK', 'socket has been disconnected'));
    this.handlers?.disconnect('transport close');
    if (this.#server.accepting) this.tryConnect();
  }

  sub(packet: SubPacket, timeoutMs: number): Promise<SubAck> {
    return this.#request(timeoutMs, (conn, ack) => this.#server.handleSub(conn, structuredClone(packet), ack));
  }

  unsub(packet: { sid: string }): void {
    const conn = this.connection;
    if (conn?.open) queueMicrotask(() => conn.open && this.#server.handleUnsub(conn, packet.sid));
  }

  emit(packet: string[], timeoutMs: number): Promise<EmitAck> {
    return this.#request(timeoutMs, (conn, ack) => this.#server.handleEmit(conn, [...packet], ack));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const conn = this.connection;
    if (conn) conn.open = false;
    this.connection = undefined;
    this.#failPending(new FeteError('NETWORK', 'the transport was closed'));
    this.#server.detach(this);
  }

  #request<A>(timeoutMs: number, call: (conn: Connection, ack: (a: A) => void) => void): Promise<A> {
    const conn = this.connection;
    if (!conn?.open) return Promise.reject(new FeteError('NETWORK', 'not connected'));
    return new Promise<A>((resolve, reject) => {
      const timer = setTimeout(() => fail(new FeteError('TIMEOUT', 'operation has timed out')), timeoutMs);
      const fail = (err: FeteError) => {
        clearTimeout(timer);
        this.#pending.delete(fail);
        reject(err);
      };
      this.#pending.add(fail);
      // The request travels to the server, and its ack back, in order with everything else.
      queueMicrotask(() => {
        if (!conn.open) return;
        call(conn, (a) =>
          conn.send(() => {
            if (!this.#pending.delete(fail)) return;
            clearTimeout(timer);
            resolve(structuredClone(a));
          }),
        );
      });
    });
  }

  #failPending(err: FeteError): void {
    for (const fail of [...this.#pending]) fail(err);
  }
}
