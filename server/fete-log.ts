// fete.log: what the realtime fanout and HTTP layers build on (internal, not the stable API): the
// event log's reads and notifications as they are, plus appends of envelopes built elsewhere
// (browser emits) that ingress admitted: stamped with server headers here, not validated again.
import { type Envelope, FeteError } from '../shared/index.js';
import type { LogView } from './log/event-log.js';
import type { AppendOutcome, EmitResult, FeteLog } from './types.js';

export interface FeteLogDeps {
  assertOpen(): void;
  /** Stamps server headers and context on an envelope ingress admitted (server/ingress/). */
  stamp(envelope: Envelope): Envelope;
  /** Appends validated envelopes and runs what follows a commit. */
  append(envelopes: Envelope[]): Promise<EmitResult[]>;
}

export function createFeteLog(log: LogView, d: FeteLogDeps): FeteLog {
  return {
    get epoch() {
      return log.epoch;
    },
    read: (after, options) => log.read(after, options),
    head: () => log.head(),
    highWater: () => log.highWater(),
    prunedThrough: (after, pattern) => log.prunedThrough(after, pattern),
    pruned: (after) => log.pruned(after),
    onAppend: (fn) => log.onAppend(fn),
    onCommit: (fn) => log.onCommit(fn),

    async append(incoming) {
      d.assertOpen();
      const outcomes: AppendOutcome[] = new Array(incoming.length);
      const valid: Envelope[] = [];
      const slots: number[] = [];
      for (let i = 0; i < incoming.length; i++) {
        try {
          valid.push(d.stamp(incoming[i]!));
          slots.push(i);
        } catch (err) {
          outcomes[i] = { ok: false, id: String(incoming[i]?.id), error: FeteError.from(err) };
        }
      }
      if (valid.length > 0) {
        const results = await d.append(valid);
        results.forEach((r, k) => (outcomes[slots[k]!] = { ok: true, ...r }));
      }
      return outcomes;
    },
  };
}
