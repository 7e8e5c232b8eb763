// The outbox's storage seam: what the outbox needs from a store, and the records it keeps. Two
// implementations: IndexedDB (idb-outbox-store.ts, shared by the tabs of an origin) and memory
// (memory-outbox-store.ts). Tests wrap one to inject failures such as a full quota.
import type { WireError } from '../shared/index.js';

/** An emit waiting for the server's ack. `e` is the encoded envelope, sent as is. */
export interface OutboxRecord {
  id: string;
  topic: string;
  e: string;
  /** The client instance (tab) that wrote it: the leader records outcomes for other tabs only. */
  tab: string;
  /** Set for a queued command (`client.execute(..., { queue: true })`): its name. `id` is then the
   * command id and `e` its encoded input; it is sent alone as a `cmd`, in queue order. */
  cmd?: string;
}

/** A queued record with its position: keys grow with commit order, across tabs. */
export interface QueuedRecord extends OutboxRecord {
  key: number;
}

/** What the server said about one envelope. Taken: with the position its topic's delivery gives
 * (shared/protocol.ts EmitAckTaken): `seq` (log), `version` (latest) or neither (volatile). Kept in
 * IndexedDB and sent between tabs, so read back as written by any client version: older ones
 * stored `seq: 0` for volatile and latest topics (outbox.ts deliveredOf drops it). */
export type Outcome =
  | { status: 'accepted' | 'duplicate'; seq?: number; version?: number }
  | { status: 'rejected'; error: WireError & { reason?: string } }
  /** A queued command ran: `result` is its encoded output. */
  | { status: 'executed'; result: string };

/** An outcome kept for the tab that wrote the entry, when another tab (the leader) sent it. */
export interface ResultRecord {
  id: string;
  outcome: Outcome;
  /** Epoch milliseconds when it was recorded, for pruning. */
  at: number;
  /** The outcome of a queued command: kept (for every tab, the writer's too) until the TTL, so its
   * result can be read by command id after a reload. */
  cmd?: true;
}

/** An entry the server refused for good: out of the queue, kept for the app to inspect. */
export interface RejectedRecord {
  id: string;
  topic: string;
  e: string;
  error: WireError;
  at: number;
}

export interface Settlement {
  /** Queue keys to delete (acked or rejected). */
  keys: number[];
  rejected: RejectedRecord[];
  results: ResultRecord[];
}

export interface OutboxStore {
  /** True when other tabs see the same store: the client then elects a leader to drain it. */
  readonly shared: boolean;
  /** Writes the records in one durable transaction, in order; resolves once committed. Throws what
   * the storage throws (a `QuotaExceededError` DOMException when full); nothing is written then. */
  append(records: readonly OutboxRecord[]): Promise<void>;
  /** The oldest `limit` queued records, in key order. */
  head(limit: number): Promise<QueuedRecord[]>;
  count(): Promise<number>;
  /** Deletes the keys and writes the rejected and result records, in one transaction. */
  settle(settlement: Settlement): Promise<void>;
  /** The result records among `ids` that exist. */
  results(ids: readonly string[]): Promise<ResultRecord[]>;
  /** Deletes result records by id, or all recorded before `olderThan` (epoch ms). */
  forgetResults(which: { ids: readonly string[] } | { olderThan: number }): Promise<void>;
  /** Rejected records, oldest first. */
  rejected(): Promise<RejectedRecord[]>;
  /** Deletes rejected records by id, or all of them. */
  discardRejected(ids?: readonly string[]): Promise<void>;
  /** Deletes every queued record, and the rejected and result records (what a user left behind),
   * in one transaction; returns what was queued (id, and whether it was a command), in queue order. */
  clearQueue(): Promise<Array<{ id: string; cmd: boolean }>>;
  close(): void;
}
