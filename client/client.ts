// createClient: the browser SDK's one entry point. It validates at the edge (patterns, topics,
// payloads, sizes) and wires the parts: the transport (connection), the subscription router
// (realtime delivery with resume), the outbox (durable emits, drained by the leader tab) and the
// status. Every signature is derived from the topic catalogue, with no code generation.
import {
  FeteError,
  assertEncodable,
  createEnvelope,
  isFeteError,
  isRequestDecl,
  decodeEnvelope,
  encodeEnvelope,
  topicByName,
  uuidv7,
  type CheckedPattern,
  type Envelope,
  type EnvelopeOf,
  type InputOf,
  type ClientEmitTopicsOf,
  type ExposedCatalog,
  type PresenceCatalog,
  type PatternEvent,
  type TopicCatalog,
  type TopicsOf,
  type AnyCommand,
  type AnyQuery,
  type RequestInputOf,
  type RequestOutputOf,
} from '../shared/index.js';
import { CommandCaller, decodeResult, prepareCall, type CallOptions } from './command-caller.js';
import { asyncDispose } from './async-dispose.js';
import type { ClientSubscription, Gap, SubscribeOptions, SubscriptionHandler } from './client-subscription.js';
import { emitBatchBudget } from './emit-batch.js';
import { Emitter } from './emitter.js';
import { openIdbOutboxStore } from './idb-outbox-store.js';
import { createMemoryOutboxStore } from './memory-outbox-store.js';
import { resolveOptions, type ClientOptions, type ResolvedOptions } from './options.js';
import { Outbox, type Delivered, type DeliveredOf } from './outbox.js';
import type { OutboxStore, RejectedRecord } from './outbox-store.js';
import { StatusHolder, type ClientStatus } from './status.js';
import { SubscriptionRouter } from './subscription-router.js';
import { PresenceWatches, type PresenceView } from './presence.js';
import type { Transport } from './transport.js';
import { fromWireError } from './wire.js';

export interface EmitOptions {
  /** The envelope id, the server's idempotency key: a UUID the app may keep to emit again safely.
   * @default a new UUIDv7 */
  id?: string;
  /** String headers (tenant, traceparent, user properties). @default {} */
  headers?: Record<string, string>;
}

export interface EmitReceipt<E = Envelope, D = Delivered> {
  readonly id: string;
  /** The envelope as queued (validated payload, subject, time). */
  readonly envelope: E;
  /** Resolves when the server acknowledges the envelope (`duplicate` if it already had the id),
   * with its position by the topic's delivery (DeliveredOf): `{ id, duplicate, seq }` for a log
   * topic, `{ id, duplicate, version }` for a latest one, `{ id, duplicate }` for a volatile one.
   * Rejects with the server's FeteError if it refused the envelope for good (the entry is then in
   * `client.outbox.rejected()`), or CLOSED if the client closes first (the entry stays queued). */
  readonly delivered: Promise<D>;
}

/** An emit the server refused for good; it left the queue and waits here for the app. */
export interface RejectedEmit {
  id: string;
  topic: string;
  /** The envelope as queued; undefined if the stored text no longer decodes. */
  envelope: Envelope | undefined;
  error: FeteError;
  rejectedAt: Date;
}

export interface OutboxView {
  /** Emits refused by the server, oldest first (all tabs, for the IndexedDB outbox). */
  rejected(): Promise<RejectedEmit[]>;
  /** Forgets rejected emits by id, or all of them. */
  discardRejected(ids?: readonly string[]): Promise<void>;
  /** Drops every entry still queued (emits and queued commands, of every tab of this outbox) so
   * that none is ever sent, and the rejected emits and recorded command results: call it at
   * sign-out, before another user signs in on this browser profile. Their receipts reject with ABORTED; a batch already sent is not recalled. Resolves
   * with the counts dropped. Rejects CLOSED, STORE_UNAVAILABLE. */
  clear(): Promise<{ emits: number; commands: number }>;
}

export interface ClientEvents {
  /** The status changed (at most once per microtask). */
  status(status: ClientStatus): void;
  /** A subscription may have missed events. */
  gap(gap: Gap): void;
  /** An error no call returned: see `ClientStatus.lastError`. */
  error(error: FeteError): void;
}

export interface ExecuteOptions extends CallOptions {
  /** Put the command in the outbox (IndexedDB: it survives offline periods and reloads, and runs
   * in queue order with emits). `execute` then resolves once it is queued, with a receipt whose
   * `result` settles when the server has run it. @default false */
  queue?: boolean;
}

/** A command in the outbox: its id (keep it to read the result after a reload with
 * `client.commandResult`) and its result, once the server has run it. */
export interface QueuedCommand<O> {
  readonly id: string;
  /** The command's output; rejects with the server's FeteError (REJECTED with `details.reason`,
   * FORBIDDEN...), or CLOSED if this client closes first (the command stays queued). */
  readonly result: Promise<O>;
}

export interface Client<C extends TopicCatalog = TopicCatalog> {
  readonly topics: C;
  /** A snapshot, replaced on every change. */
  readonly status: ClientStatus;
  readonly outbox: OutboxView;
  /** Subscribes to the events whose subject matches `pattern`; the handler's event is the union of
   * the catalogue topics the pattern can match among those the server sends to browsers
   * (presentation topics and topics declared `expose: true`). Throws InvalidPatternError, or
   * CLOSED; the server refuses (FORBIDDEN) a pattern that matches no exposed topic. */
  subscribe<const P extends string>(
    pattern: CheckedPattern<ExposedCatalog<C>, P>,
    handler: SubscriptionHandler<PatternEvent<ExposedCatalog<C>, P>>,
    options?: SubscribeOptions,
  ): ClientSubscription<PatternEvent<ExposedCatalog<C>, P>>;
  /** Without a handler: consume with `for await (const ev of sub)`. */
  subscribe<const P extends string>(pattern: CheckedPattern<ExposedCatalog<C>, P>, options?: SubscribeOptions): ClientSubscription<PatternEvent<ExposedCatalog<C>, P>>;
  /** Who is subscribed to the subjects matching `pattern` (topics declared `presence: true`): a
   * live list of members (public id, connection count, state) with join, leave and update events,
   * re-synced after every reconnect. A connection is a member of subject S while it holds a
   * subscription to exactly S. Throws InvalidPatternError or CLOSED; the server's refusal
   * (FORBIDDEN, INVALID_OPTIONS) rejects `view.ready`. The pattern is checked at compile time as
   * `subscribe`'s is, against the topics declared `presence: true`. */
  presence<const P extends string>(pattern: CheckedPattern<PresenceCatalog<ExposedCatalog<C>>, P>): PresenceView;
  /** Validates and queues an event; resolves once it is durably in the outbox. Rejects (nothing
   * queued) with INVALID_PAYLOAD / MALFORMED, UNKNOWN_TOPIC, FORBIDDEN (not a `clientEmit` topic),
   * TOO_LARGE, QUOTA_EXCEEDED, STORE_UNAVAILABLE or CLOSED. */
  emit<T extends ClientEmitTopicsOf<C>>(topic: T, payload: InputOf<T>, options?: EmitOptions): Promise<EmitReceipt<EnvelopeOf<T>, DeliveredOf<T>>>;
  /** Runs a command on the server and resolves with its output. The call keeps one id (`options.id`
   * or a new one) across resends after a lost connection, so the server runs it at most once.
   * Rejects INVALID_PAYLOAD / TOO_LARGE (input), FORBIDDEN, NO_HANDLER, REJECTED (`details.reason`),
   * TIMEOUT (no answer within `timeoutMs`, default 30 s), CLOSED. */
  execute<K extends AnyCommand>(command: K, input: RequestInputOf<K>, options?: ExecuteOptions & { queue?: false }): Promise<RequestOutputOf<K>>;
  /** With `queue: true`: resolves once the command is durably queued (see ExecuteOptions.queue). */
  execute<K extends AnyCommand>(command: K, input: RequestInputOf<K>, options: ExecuteOptions & { queue: true }): Promise<QueuedCommand<RequestOutputOf<K>>>;
  /** Runs a query on the server and resolves with its output (errors as `execute`). */
  query<Q extends AnyQuery>(query: Q, input: RequestInputOf<Q>, options?: Omit<CallOptions, 'id'>): Promise<RequestOutputOf<Q>>;
  /** The output of command `id`, however it was called: one queued with `queue: true` (by any tab,
   * before a reload too) is waited for while queued; any other is asked of the server, which
   * answers the outcome it recorded for this client's principal and tenant (waiting for a
   * connection, up to `timeoutMs`). Rejects as the command did (REJECTED with `details.reason`...),
   * or NOT_FOUND when neither this outbox nor the server has an outcome of `id` for this principal
   * (never run by it, still running on the server, or past the server's `resultTtlMs`); given
   * `command`, an id of another command is NOT_FOUND too. */
  commandResult<K extends AnyCommand>(command: K, id: string, options?: Pick<CallOptions, 'timeoutMs'>): Promise<RequestOutputOf<K>>;
  commandResult(id: string, options?: Pick<CallOptions, 'timeoutMs'>): Promise<unknown>;
  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): () => void;
  /** Ends subscriptions, stops draining, writes emits already called, releases the leader lock,
   * closes the connection and the outbox database. Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export function createClient<C extends TopicCatalog>(options: ClientOptions<C>): Client<C> {
  return new FeteClient(resolveOptions(options));
}

function openStore(o: ResolvedOptions<TopicCatalog>): Promise<OutboxStore> {
  if (o.outbox === 'memory') return Promise.resolve(createMemoryOutboxStore());
  if (o.outbox === 'indexeddb') return openIdbOutboxStore(o.indexedDB!, `fete-outbox:${o.name}`);
  return Promise.resolve(o.outbox);
}

const encoder = new TextEncoder();

class FeteClient<C extends TopicCatalog> implements Client<C> {
  readonly #o: ResolvedOptions<C>;
  readonly #events = new Emitter<ClientEvents>();
  readonly #status = new StatusHolder((s) => this.#events.emit('status', s));
  readonly #transport: Transport;
  readonly #router: SubscriptionRouter;
  readonly #outbox: Outbox;
  readonly #commands: CommandCaller;
  readonly #presence: PresenceWatches;
  /** This client's id among the tabs sharing the outbox. */
  readonly #tab = uuidv7();
  #closing: Promise<void> | undefined;

  readonly outbox: OutboxView = {
    rejected: async () => (await this.#outbox.rejected()).map(toRejectedEmit),
    discardRejected: (ids) => this.#outbox.discardRejected(ids),
    clear: () => this.#outbox.clear(),
  };

  constructor(o: ResolvedOptions<C>) {
    this.#o = o;
    const report = (err: FeteError) => this.#report(err);
    this.#transport = o.transport({ url: o.url, auth: o.auth });
    this.#router = new SubscriptionRouter({
      topics: o.topics,
      transport: this.#transport,
      ackTimeoutMs: o.ackTimeoutMs,
      retry: o.retry,
      maxEnvelopeBytes: o.maxEnvelopeBytes,
      bufferSize: o.bufferSize,
      onGap: (gap) => this.#events.emit('gap', gap),
      onError: report,
    });
    this.#outbox = new Outbox({
      store: openStore(o),
      transport: this.#transport,
      tab: this.#tab,
      name: o.name,
      locks: o.locks,
      channel: o.broadcastChannel,
      ackTimeoutMs: o.ackTimeoutMs,
      maxBatchBytes: emitBatchBudget(o.maxEnvelopeBytes),
      retry: o.retry,
      pollIntervalMs: o.pollIntervalMs,
      resultTtlMs: o.resultTtlMs,
      onStatus: (patch) => this.#status.update(patch),
      onError: report,
    });
    this.#presence = new PresenceWatches({ transport: this.#transport, ackTimeoutMs: o.ackTimeoutMs, retry: o.retry, onError: report });
    this.#commands = new CommandCaller({ transport: this.#transport, retry: o.retry, maxEnvelopeBytes: o.maxEnvelopeBytes });
    this.#transport.open({
      connect: () => {
        this.#status.update({ connected: true, refused: undefined });
        this.#router.connected();
        this.#presence.connected();
        this.#outbox.connected();
        this.#commands.connected();
      },
      disconnect: () => {
        this.#status.update({ connected: false });
        this.#router.disconnected();
        this.#presence.disconnected();
      },
      connectError: (err) => this.#connectError(err),
      ev: (packet) => this.#router.ev(packet),
      evs: (packet) => this.#router.evs(packet),
      gap: (packet) => this.#router.gap(packet),
      clr: (packet) => this.#router.clr(packet),
      pev: (packet) => this.#presence.pev(packet),
    });
  }

  get topics(): C {
    return this.#o.topics;
  }

  get status(): ClientStatus {
    return this.#status.current;
  }

  subscribe(pattern: string, handlerOrOptions?: SubscriptionHandler<never> | SubscribeOptions, maybeOptions?: SubscribeOptions) {
    const handler = typeof handlerOrOptions === 'function' ? handlerOrOptions : undefined;
    const options = (typeof handlerOrOptions === 'object' && handlerOrOptions !== null ? handlerOrOptions : maybeOptions) ?? {};
    // The overloads carry the event type; at runtime every event is an Envelope.
    return this.#router.subscribe(pattern, handler as SubscriptionHandler<unknown> | undefined, options) as ClientSubscription<never>;
  }

  presence(pattern: string): PresenceView {
    return this.#presence.watch(pattern);
  }

  async emit<T extends ClientEmitTopicsOf<C>>(topic: T, payload: InputOf<T>, options: EmitOptions = {}): Promise<EmitReceipt<EnvelopeOf<T>, DeliveredOf<T>>> {
    if (this.#closing !== undefined) throw new FeteError('CLOSED', 'the client is closed');
    const name: unknown = (topic as { name?: unknown } | null)?.name;
    const known = typeof name === 'string' ? topicByName(this.#o.topics, name) : undefined;
    if (known === undefined) throw new FeteError('UNKNOWN_TOPIC', `topic ${JSON.stringify(name)} is not in the client's catalogue`);
    if (!known.clientEmit)
      throw new FeteError('FORBIDDEN', `topic "${known.name}" is not declared clientEmit: browsers may not emit it`, {
        details: { topic: known.name },
      });
    // Validated here for early feedback; what is sent is the input: the server's one validation
    // decides, and a transforming schema (z.string().transform(Number)) must see its input there.
    assertEncodable(payload, { topic: known.name });
    const envelope = createEnvelope(known, payload, { id: options.id, headers: options.headers }) as EnvelopeOf<T>;
    const e = encodeEnvelope({ ...(envelope as Envelope), payload });
    const max = this.#o.maxEnvelopeBytes;
    // At most 3 UTF-8 bytes per UTF-16 unit: encode only when the limit is in doubt.
    const size = e.length * 3 <= max ? e.length : encoder.encode(e).length;
    if (size > max)
      throw new FeteError('TOO_LARGE', `the envelope is ${size} bytes, over the limit of ${max}`, { details: { size, max, topic: known.name } });
    const { delivered, cancel } = this.#outbox.expect(envelope.id);
    try {
      await this.#outbox.append({ id: envelope.id, topic: known.name, e, tab: this.#tab });
    } catch (err) {
      cancel();
      throw err;
    }
    return { id: envelope.id, envelope, delivered: delivered as Promise<DeliveredOf<T>> };
  }

  // The overloads in Client carry the types; at runtime outputs are whatever the server decoded.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  execute(command: AnyCommand, input: unknown, options: ExecuteOptions = {}): Promise<any> {
    if (options.queue) return this.#queueCommand(command, input, options);
    return this.#commands.call('command', command, input, options);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  query(query: AnyQuery, input: unknown, options: Omit<CallOptions, 'id'> = {}): Promise<any> {
    return this.#commands.call('query', query, input, options);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async commandResult(a: AnyCommand | string, b?: unknown, c?: unknown): Promise<any> {
    if (this.#closing !== undefined) throw new FeteError('CLOSED', 'the client is closed');
    const [command, id, options] = typeof a === 'string' ? [undefined, a, b] : [a, b, c];
    if (command !== undefined && (!isRequestDecl(command) || command.kind !== 'command'))
      throw new FeteError('INVALID_OPTIONS', 'client.commandResult expects a command declared with defineCommand (or only the id)');
    if (typeof id !== 'string') throw new FeteError('MALFORMED', 'a command id must be a UUID string');
    let outcome: Awaited<ReturnType<Outbox['commandOutcome']>> | undefined;
    try {
      outcome = await this.#outbox.commandOutcome(id);
    } catch (err) {
      // An outbox that cannot be read (no IndexedDB here) knows nothing: the server may.
      if (isFeteError(err, 'CLOSED')) throw err;
    }
    // Not this outbox's: the server's record (a direct `execute`, another device, a cleared outbox).
    if (outcome === undefined || (!outcome.ok && outcome.error.code === 'NOT_FOUND'))
      return this.#commands.result(id, command?.name, (options ?? {}) as Pick<CallOptions, 'timeoutMs'>);
    if (!outcome.ok) throw outcome.error;
    return decodeResult(outcome.result, this.#o.maxEnvelopeBytes);
  }

  async #queueCommand(command: AnyCommand, input: unknown, options: ExecuteOptions): Promise<QueuedCommand<unknown>> {
    if (this.#closing !== undefined) throw new FeteError('CLOSED', 'the client is closed');
    const { decl, id, encoded } = await prepareCall('command', command, input, options.id, this.#o.maxEnvelopeBytes);
    await this.#outbox.append({ id, topic: `cmd:${decl.name}`, e: encoded, tab: this.#tab, cmd: decl.name });
    const result = this.#outbox.commandOutcome(id).then((outcome) => {
      if (!outcome.ok) throw outcome.error;
      return decodeResult(outcome.result, this.#o.maxEnvelopeBytes);
    });
    // Also readable through commandResult: an app that drops the receipt gets no unhandled rejection.
    result.catch(() => undefined);
    return { id, result };
  }

  on<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): () => void {
    return this.#events.on(event, listener);
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  [asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    this.#router.close();
    this.#presence.close();
    this.#commands.close();
    // Before the outbox: closing the transport rejects an emit ack in flight, so the drain loop ends now.
    this.#transport.close();
    this.#status.update({ connected: false });
    await this.#outbox.close();
    this.#status.update({ leader: false });
  }

  /** Refusals (auth) are a state, shown in `status.refused` and reported once per streak; other
   * connection failures (unreachable, network) are reported as they come. */
  #connectError(err: FeteError): void {
    if (err.code !== 'UNAUTHORIZED' && err.code !== 'FORBIDDEN') return this.#report(err);
    const streak = this.#status.current.refused !== undefined;
    this.#status.update({ refused: err, lastError: err });
    if (!streak) this.#events.emit('error', err);
  }

  #report(err: FeteError): void {
    this.#status.update({ lastError: err });
    this.#events.emit('error', err);
  }
}

function toRejectedEmit(r: RejectedRecord): RejectedEmit {
  let envelope: Envelope | undefined;
  try {
    envelope = decodeEnvelope(r.e);
  } catch {
    envelope = undefined;
  }
  return { id: r.id, topic: r.topic, envelope, error: fromWireError(r.error), rejectedAt: new Date(r.at) };
}
