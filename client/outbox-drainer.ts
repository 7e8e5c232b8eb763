// The leader's send loop: reads the head of the outbox queue, sends it as one `emit` batch, and
// settles what the server acked. One batch is in flight at a time, so entries reach the server in
// queue order even across retries; an entry leaves the queue only once the server acked its id.
//
// Per ack item, in order: accepted/duplicate -> settled; rejected with a permanent code (wire.ts)
// -> settled into the rejected list; rejected with any other code -> stop there: that entry and all
// after it stay queued and the batch is retried after a backoff (the server applies a batch in
// order, so anything it accepted after the failure comes back as a duplicate, never reordered).
// A batch holds at most PROTOCOL_LIMITS.maxEmitBatch entries and fits the server's frame limit
// (emit-batch.ts): a packet over it makes Socket.IO drop the connection instead of answering.
// A batch-level refusal with a permanent code (a packet the server will not take, e.g. one envelope
// too large) halves the batch until the offending entry is alone, then rejects that entry: one bad
// entry must not block the queue behind it.
import { FeteError, PROTOCOL_LIMITS, type CmdAck, type EmitAck, type EmitAckTaken } from '../shared/index.js';
import { fromCmdError } from './command-ack.js';
import { backoffDelay, Wakeup, type RetryOptions } from './backoff.js';
import { takeBatch } from './emit-batch.js';
import type { Outcome, OutboxStore, QueuedRecord, RejectedRecord, ResultRecord } from './outbox-store.js';
import type { Transport } from './transport.js';
import { fromWireError, isPermanent } from './wire.js';

export interface SettledEntry {
  record: QueuedRecord;
  outcome: Outcome;
}

export interface DrainerOptions {
  store: OutboxStore;
  transport: Transport;
  /** This client's tab id: results are recorded only for other tabs' entries. */
  tab: string;
  ackTimeoutMs: number;
  /** Most bytes of envelopes in one `emit` packet (emit-batch.ts `emitBatchBudget`). */
  maxBatchBytes: number;
  retry: Required<RetryOptions>;
  /** How often an idle leader looks at the queue anyway (entries from a tab whose wake-up was lost). */
  pollIntervalMs: number;
  /** How long results for other tabs are kept. */
  resultTtlMs: number;
  /** True while this client leads and is connected. */
  canSend(): boolean;
  /** Entries the store has settled (or failed to, see #settle), in queue order. */
  onSettled(entries: SettledEntry[], results: ResultRecord[]): void;
  onError(err: FeteError): void;
}

export class OutboxDrainer {
  readonly #o: DrainerOptions;
  /** Something to do: entries queued, leadership gained, connected. */
  readonly #work = new Wakeup();
  /** Worth retrying before the backoff ends: a new connection. */
  readonly #retry = new Wakeup();
  #stopped = false;
  #loop: Promise<void> | undefined;
  #attempt = 0;
  #batchSize: number = PROTOCOL_LIMITS.maxEmitBatch;
  #lastPrune = 0;

  constructor(options: DrainerOptions) {
    this.#o = options;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** New entries, leadership or a connection: look again now. */
  wake(): void {
    this.#work.notify();
  }

  /** A new connection: cut a backoff short too. */
  reconnected(): void {
    this.#retry.notify();
    this.#work.notify();
  }

  /** Stops after the current step (an ack in flight is rejected by closing the transport). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#work.notify();
    this.#retry.notify();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const o = this.#o;
    while (!this.#stopped) {
      if (!o.canSend()) {
        await this.#work.wait();
        continue;
      }
      let batch: QueuedRecord[];
      try {
        const head = await o.store.head(this.#batchSize);
        // A queued command goes alone, as a `cmd`, when it reaches the head: queue order holds.
        if (head[0]?.cmd !== undefined) {
          if (!this.#stopped) await this.#sendCommand(head[0]);
          continue;
        }
        const firstCmd = head.findIndex((r) => r.cmd !== undefined);
        batch = takeBatch(firstCmd < 0 ? head : head.slice(0, firstCmd), o.maxBatchBytes);
      } catch (err) {
        o.onError(FeteError.from(err, 'STORE_UNAVAILABLE'));
        await this.#backoff();
        continue;
      }
      if (this.#stopped) break;
      if (batch.length === 0) {
        await this.#pruneResults();
        await this.#work.wait(o.pollIntervalMs);
        continue;
      }
      let ack: EmitAck;
      try {
        ack = await o.transport.emit(batch.map((r) => r.e), o.ackTimeoutMs);
      } catch (err) {
        if (this.#stopped) break; // close() closed the transport under it: not an error to report
        // Unknown whether the server applied it: resend later, it dedupes by id.
        o.onError(FeteError.from(err, 'NETWORK'));
        await this.#backoff();
        continue;
      }
      const { settled, retry } = this.#match(batch, ack);
      if (settled.length > 0) {
        await this.#settle(settled);
        this.#attempt = 0;
        this.#batchSize = PROTOCOL_LIMITS.maxEmitBatch;
      }
      if (retry === 'halve') continue;
      if (retry !== undefined) {
        o.onError(retry);
        await this.#backoff();
      }
    }
  }

  /** Sends a queued command with its id (a resend after a lost ack gets the recorded result) and
   * settles it once answered; a retryable answer or a lost connection backs off and tries again. */
  async #sendCommand(record: QueuedRecord): Promise<void> {
    const o = this.#o;
    let ack: CmdAck;
    try {
      if (!o.transport.cmd) throw new FeteError('NETWORK', 'this transport cannot send commands');
      ack = await o.transport.cmd({ id: record.id, name: record.cmd!, input: record.e }, o.ackTimeoutMs);
    } catch (err) {
      if (this.#stopped) return;
      o.onError(FeteError.from(err, 'NETWORK'));
      await this.#backoff();
      return;
    }
    if (!ack.ok) {
      const error = fromCmdError(ack.error);
      // REJECTED is the handler's answer, as final as a schema or authorization refusal.
      if (!isPermanent(error) && error.code !== 'REJECTED') {
        o.onError(error);
        await this.#backoff();
        return;
      }
    }
    await this.#settle([{ record, outcome: ack.ok ? { status: 'executed', result: ack.result } : { status: 'rejected', error: ack.error } }]);
    this.#attempt = 0;
  }

  /** The settled prefix of a batch, and why the rest (if any) must be sent again: an error to
   * report before a backoff, or 'halve' to retry at once with half the batch. */
  #match(batch: QueuedRecord[], ack: EmitAck): { settled: SettledEntry[]; retry?: FeteError | 'halve' } {
    if (!ack.ok) {
      const error = fromWireError(ack.error);
      if (!isPermanent(error)) return { settled: [], retry: error };
      if (batch.length > 1) {
        this.#batchSize = Math.ceil(batch.length / 2);
        return { settled: [], retry: 'halve' };
      }
      return { settled: [{ record: batch[0]!, outcome: { status: 'rejected', error: ack.error } }] };
    }
    const settled: SettledEntry[] = [];
    for (let i = 0; i < batch.length; i++) {
      const record = batch[i]!;
      const item = ack.results[i];
      if (item === undefined)
        return { settled, retry: new FeteError('MALFORMED', `emit ack has ${ack.results.length} results for ${batch.length} envelopes`) };
      if (item.id !== null && item.id !== record.id)
        return { settled, retry: new FeteError('MALFORMED', `emit ack item ${i} is for ${item.id}, expected ${record.id}`) };
      if (item.status !== 'rejected') {
        settled.push({ record, outcome: takenOutcome(item) });
        continue;
      }
      const error = fromWireError(item.error);
      if (!isPermanent(error)) return { settled, retry: error };
      settled.push({ record, outcome: { status: 'rejected', error: item.error } });
    }
    return { settled };
  }

  async #settle(settled: SettledEntry[]): Promise<void> {
    const o = this.#o;
    const now = Date.now();
    const rejected: RejectedRecord[] = [];
    const results: ResultRecord[] = [];
    for (const { record, outcome } of settled) {
      // A command's refusal is its answer, read by command id: it does not go to the rejected emits.
      if (outcome.status === 'rejected' && record.cmd === undefined) rejected.push({ id: record.id, topic: record.topic, e: record.e, error: outcome.error, at: now });
      if (record.cmd !== undefined) results.push({ id: record.id, outcome, at: now, cmd: true });
      else if (record.tab !== o.tab) results.push({ id: record.id, outcome, at: now });
    }
    try {
      await o.store.settle({ keys: settled.map((s) => s.record.key), rejected, results });
    } catch (err) {
      // The server has answered, so the receipts settle anyway; the entries stay queued and are
      // re-sent, which the server answers as duplicates.
      o.onError(FeteError.from(err, 'STORE_UNAVAILABLE'));
    }
    o.onSettled(settled, results);
  }

  async #backoff(): Promise<void> {
    if (this.#stopped) return;
    await this.#retry.wait(backoffDelay(this.#attempt++, this.#o.retry));
  }

  async #pruneResults(): Promise<void> {
    const o = this.#o;
    const now = Date.now();
    if (now - this.#lastPrune < o.resultTtlMs / 2) return;
    this.#lastPrune = now;
    try {
      await o.store.forgetResults({ olderThan: now - o.resultTtlMs });
    } catch {
      // Housekeeping only: tried again at the next prune.
    }
  }
}

/** The outcome kept for an item the server took: its status and the position it gave, as given. */
function takenOutcome(item: EmitAckTaken): Outcome {
  if ('seq' in item) return { status: item.status, seq: item.seq };
  if ('version' in item && item.version !== undefined) return { status: item.status, version: item.version };
  return { status: item.status };
}
