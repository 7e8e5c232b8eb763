// How many queued entries go into one `emit` packet: at most PROTOCOL_LIMITS.maxEmitBatch, and no
// more bytes than the server's Socket.IO frame limit takes. A packet over that limit is not refused
// with a code: Socket.IO closes the connection, and the leader would reconnect and resend the same
// packet forever, so the queue would never move.
//
// The server sets its frame limit (`maxHttpBufferSize`) from its largest envelope as
// 2 × maxPayloadBytes + 64 KiB (server/fanout/attach.ts `frameLimit`: one largest envelope with every
// character JSON-escaped, plus room for the packet). The client cannot import the server, so the
// formula is repeated here over the client's own `maxEnvelopeBytes`, which must not exceed the
// server's `maxPayloadBytes` (both default to 1 MiB).
import { PROTOCOL_LIMITS } from '../shared/index.js';

/** Room kept for what shares the frame with the envelopes: Socket.IO's packet header (type,
 * namespace, ack id, event name) and, over HTTP long-polling, other small packets in the same POST. */
const FRAME_RESERVE_BYTES = 4 * 1024;

/** The server's Socket.IO frame limit for an envelope limit (server/fanout/attach.ts). */
export function serverFrameLimit(maxEnvelopeBytes: number): number {
  return 2 * maxEnvelopeBytes + 64 * 1024;
}

/** Most bytes of envelopes one `emit` packet may carry (as measured by `wireBytes`). */
export function emitBatchBudget(maxEnvelopeBytes: number): number {
  return serverFrameLimit(maxEnvelopeBytes) - FRAME_RESERVE_BYTES;
}

const encoder = new TextEncoder();

/** What one encoded envelope adds to the packet: Socket.IO sends the batch as a JSON array of
 * strings, so the text is JSON-escaped again (quotes and backslashes double), UTF-8 encoded, plus a
 * comma. Measured exactly: a batch is at most 100 entries, and an estimate loose enough to be safe
 * (6 bytes per character) would cut batches of small envelopes for nothing. */
export function wireBytes(e: string): number {
  return encoder.encode(JSON.stringify(e)).length + 1;
}

/**
 * The longest prefix of `records` (already at most the count limit) whose envelopes fit in
 * `budget` bytes. The first record is always taken, even alone over the budget: it is sent by
 * itself and the server answers for it (TOO_LARGE if it is over its envelope limit, which moves it
 * to the rejected list), so one oversized entry cannot stall the queue behind it.
 */
export function takeBatch<R extends { e: string }>(records: readonly R[], budget: number): R[] {
  let bytes = 0;
  let n = 0;
  while (n < records.length && n < PROTOCOL_LIMITS.maxEmitBatch) {
    bytes += wireBytes(records[n]!.e);
    if (n > 0 && bytes > budget) break;
    n++;
  }
  return n === records.length ? (records as R[]) : records.slice(0, n);
}
