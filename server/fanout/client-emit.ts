// Applying emits that come from browsers (Socket.IO `emit` packets and the HTTP emit route): each
// encoded envelope is admitted by ingress (admit-client.ts: size, frame, topic, bounded decode,
// schema once, authorize) and appended with the sender as the current principal, where its server
// headers are stamped. One result per input, in order.
import { type EmitAckItem, type EmitAckTaken, type Envelope, FeteError, type TopicCatalog, type WireError } from '../../shared/index.js';
import type { EmitResult } from '../emit-result.js';
import { runAs } from '../context/principal.js';
import { ParsedEnvelope, admitClientEmit, allowed } from '../ingress/admit-client.js';
import type { EventBus } from '../bus/event-bus.js';
import type { Security } from '../security/security.js';
import type { PresenceService } from '../presence/presence-service.js';
import { runInTenant } from '../security/tenant.js';
import type { FeteLog } from '../types.js';
import type { LiveHub } from '../live/live-hub.js';
import type { NodeTail, NodeTailOptions } from './node-tail.js';
import type { ClientEmitContext } from './types.js';

// socket-session.ts authorizes subscriptions with the same hook semantics.
export { allowed };

/** The part of a Fete that client emits need (any `Fete<C>` fits). */
export interface ClientEmitTarget {
  readonly topics: TopicCatalog;
  readonly log: FeteLog;
  readonly security: Security;
  /** Presence (server/presence/), when the fete has it. */
  readonly presenceService?: PresenceService;
  /** The NATS bus (`bus` option): the fanout's tail follows it instead of the log alone. */
  readonly bus?: EventBus | undefined;
}

/** What the Socket.IO fanout needs of a Fete: client emits, plus the `volatile` and `latest`
 * events of subscriptions (live/live-hub.ts). */
export interface FanoutTarget extends ClientEmitTarget {
  readonly live: LiveHub;
  /** The node's one live tail of the log, shared by every door (node-tail.ts). */
  browserTail(options: NodeTailOptions): NodeTail;
}

/** A FeteError as a wire error; unexpected failures keep their code but not their internals. */
export function toWireError(err: unknown): WireError {
  const e = FeteError.from(err);
  return { code: e.code, message: e.code === 'INTERNAL' ? 'internal error' : e.message };
}

function rejected(id: string | null, err: unknown): EmitAckItem {
  return { id, status: 'rejected', error: toWireError(err) };
}

/** The answer for an item the server took: its result's position as it is, a log event's `seq`, a
 * latest value's `version`, or neither (volatile); never a seq for an event that is in no log. */
export function takenItem(id: string, result: EmitResult, duplicate: boolean): EmitAckTaken {
  const status = duplicate ? 'duplicate' : 'accepted';
  if ('seq' in result) return { id, status, seq: result.seq };
  if ('version' in result && result.version !== undefined) return { id, status, version: result.version };
  return { id, status };
}

function idOf(encoded: unknown, framed: string | undefined): string | null {
  if (framed !== undefined) return framed;
  // The id of an input that failed later checks is still worth echoing, so the client can match it.
  if (encoded instanceof ParsedEnvelope) {
    const json = (encoded.raw as { json?: { id?: unknown } } | null)?.json;
    return typeof json?.id === 'string' ? json.id : null;
  }
  try {
    const raw = typeof encoded === 'string' && encoded.length < 4096 ? (JSON.parse(encoded) as { json?: { id?: unknown } }) : undefined;
    return typeof raw?.json?.id === 'string' ? raw.json.id : null;
  } catch {
    return null;
  }
}

/**
 * Applies a batch of untrusted encoded envelopes from `ctx.caller`, in order. Each item is
 * accepted or a duplicate (dedupe by envelope id or idempotency key), with its position by
 * its topic's delivery (takenItem: a log event's seq, the first emit's for a duplicate; a latest
 * value's version; nothing for a volatile event), or rejected with a code. After a retryable failure (an authorize hook that
 * threw, the store down) the rest of the batch is not applied and gets the same error, so the
 * client's in-order retry never lets a later event overtake an earlier one.
 */
export async function applyClientEmits(target: ClientEmitTarget, ctx: ClientEmitContext, encoded: readonly unknown[]): Promise<EmitAckItem[]> {
  const results: Array<EmitAckItem | undefined> = new Array(encoded.length);
  const admitted: Envelope[] = [];
  const slots: number[] = [];
  let halt: FeteError | undefined;
  for (let i = 0; i < encoded.length; i++) {
    if (halt) {
      results[i] = rejected(idOf(encoded[i], undefined), halt);
      continue;
    }
    let framed: string | undefined;
    try {
      admitted.push(await admitClientEmit(target.topics, ctx, encoded[i], (frame) => (framed = frame.id)));
      slots.push(i);
    } catch (err) {
      const e = FeteError.from(err);
      results[i] = rejected(idOf(encoded[i], framed), e);
      if (e.retryable || e.code === 'INTERNAL') halt = e;
    }
  }
  if (admitted.length > 0) {
    try {
      // The sender is the current principal and tenant while appending: the principal codec
      // records it in the event's context and `actor` header, the tenant codec stamps the
      // `tenant` header (client-set actor and tenant headers are dropped: client-headers.ts).
      const { principal, tenant } = ctx.caller;
      const outcomes = await runAs(principal, () => runInTenant(tenant, () => target.log.append(admitted)));
      // An id twice in the batch: the second is a duplicate of the first; a log event answers
      // the first's seq. A live item's result is its own (the route answers a repeated id, and a
      // volatile event never takes a latest value's version).
      const seen = new Map<string, EmitResult>();
      outcomes.forEach((o, k) => {
        const slot = slots[k]!;
        const id = admitted[k]!.id;
        if (!o.ok) return void (results[slot] = rejected(id, o.error));
        const earlier = seen.get(id);
        if (earlier === undefined) seen.set(id, o);
        const position = earlier !== undefined && 'seq' in earlier && 'seq' in o ? earlier : o;
        results[slot] = takenItem(id, position, o.duplicate || earlier !== undefined);
      });
    } catch (err) {
      slots.forEach((slot, k) => (results[slot] = rejected(admitted[k]!.id, err)));
    }
  }
  return results as EmitAckItem[];
}
