// POST /emit: browsers or other services emit over plain HTTP, through the same checks as the
// Socket.IO path (`applyClientEmits`: decode as hostile input, catalogue, clientEmit, authorize.emit
// deny-by-default, schema, append deduplicated by envelope id). Answers:
//   single item (object body): 200 { results: [item] } when accepted or duplicate, else the
//     rejection's status (400/403/404/413/503...) with { error, results: [item] }
//   batch (array body): 200 when every item was accepted or duplicate, 207 when any was rejected;
//     both with { results } in input order. Request-level failures: 4xx { error }.
import type { Request, Response } from 'express';
import { type EmitAckItem, FeteError, type TopicCatalog } from '../../shared/index.js';
import { applyClientEmits } from '../fanout/client-emit.js';
import type { Caller, Security } from '../security/security.js';
import type { FeteLog } from '../types.js';
import { authenticate } from './authenticate.js';
import { claimedId, emitItemsOf, encodeEmitItem } from './emit-request.js';
import { statusOf } from './http-errors.js';
import { parseJsonBody } from './json-body.js';
import type { ResolvedExpressOptions } from './options.js';

export interface EmitTarget {
  readonly topics: TopicCatalog;
  readonly log: FeteLog;
  readonly security: Security;
}

/** Counts of emit outcomes over HTTP, for /metrics. */
export interface EmitCounters {
  accepted: number;
  duplicate: number;
  rejected: number;
}

export function emitRoute(fete: EmitTarget, o: ResolvedExpressOptions, counters: EmitCounters) {
  return async (req: Request, res: Response): Promise<void> => {
    const caller = (res.locals.feteCaller as Caller | undefined) ?? (await authenticate(req, fete.security));
    const { batch, items } = emitItemsOf(parseJsonBody(req), o.maxBatch);
    // Items that are not even envelope-shaped are answered here; the rest go through the shared path.
    const results: Array<EmitAckItem | undefined> = new Array(items.length);
    const encoded: unknown[] = [];
    const slots: number[] = [];
    items.forEach((item, i) => {
      try {
        encoded.push(encodeEmitItem(item, fete.topics));
        slots.push(i);
      } catch (err) {
        const e = FeteError.from(err);
        results[i] = { id: claimedId(item), status: 'rejected', error: { code: e.code, message: e.message } };
      }
    });
    if (encoded.length > 0) {
      const applied = await applyClientEmits(fete, { caller, authorize: fete.security.authorize, maxPayloadBytes: o.maxPayloadBytes }, encoded);
      applied.forEach((r, k) => (results[slots[k]!] = r));
    }
    const all = results as EmitAckItem[];
    for (const r of all) counters[r.status]++;
    const failed = all.find((r) => r.status === 'rejected');
    if (!batch && failed?.status === 'rejected') {
      res.status(statusOf(failed.error.code)).json({ error: failed.error, results: all });
      return;
    }
    res.status(failed ? 207 : 200).json({ results: all });
  };
}
