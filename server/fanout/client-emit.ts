// Applying emits that come from browsers (Socket.IO `emit` packets and the HTTP emit route): each
// encoded envelope is decoded as hostile input, checked against the catalogue, authorized for the
// sender and appended with the sender as the current principal. One result per input, in order.
import {
  type AnyTopic,
  DEFAULT_MAX_ENVELOPE_BYTES,
  type EmitAckItem,
  type Envelope,
  FeteError,
  type TopicCatalog,
  type WireError,
  decodeEnvelope,
  topicByName,
  validatePayload,
} from '../../shared/index.js';
import { runAs } from '../context/principal.js';
import type { Security } from '../security/security.js';
import { runInTenant } from '../security/tenant.js';
import type { FeteLog } from '../types.js';
import type { ClientEmitContext } from './types.js';

/** The part of a Fete that client emits need (any `Fete<C>` fits). */
export interface ClientEmitTarget {
  readonly topics: TopicCatalog;
  readonly log: FeteLog;
  readonly security: Security;
}

/** A FeteError as a wire error; unexpected failures keep their code but not their internals. */
export function toWireError(err: unknown): WireError {
  const e = FeteError.from(err);
  return { code: e.code, message: e.code === 'INTERNAL' ? 'internal error' : e.message };
}

function rejected(id: string | null, err: unknown): EmitAckItem {
  return { id, status: 'rejected', error: toWireError(err) };
}

/** An authorization hook's answer: true allows, false is FORBIDDEN, a throw keeps a FeteError's
 * code and is INTERNAL otherwise (a hook that hit a database error: the client retries later). */
export async function allowed(hook: () => boolean | Promise<boolean>, what: string): Promise<void> {
  let ok: boolean;
  try {
    ok = await hook();
  } catch (err) {
    throw FeteError.from(err, 'INTERNAL');
  }
  if (ok !== true) throw new FeteError('FORBIDDEN', `not allowed to ${what}`);
}

/** Decodes and checks one input up to (not including) the append. */
async function admit(target: ClientEmitTarget, ctx: ClientEmitContext, encoded: unknown, maxBytes: number): Promise<{ envelope: Envelope; topic: AnyTopic }> {
  const envelope = decodeEnvelope(encoded as string, { maxBytes });
  const topic = topicByName(target.topics, envelope.topic);
  if (topic === undefined) throw new FeteError('UNKNOWN_TOPIC', `topic ${JSON.stringify(envelope.topic)} is not in the catalogue`);
  // Presentation events are the server's output; even a misdeclared clientEmit cannot make them input.
  if (topic.kind === 'presentation' || !topic.clientEmit)
    throw new FeteError('FORBIDDEN', `topic "${topic.name}" cannot be emitted by clients`);
  const emitHook = ctx.authorize?.emit;
  if (emitHook === undefined) throw new FeteError('FORBIDDEN', `no authorize.emit hook: client emits are denied`);
  // Validated first so that the hook judges the payload the listeners will see (after transforms).
  const payload = await validatePayload(topic, envelope.payload);
  await allowed(() => emitHook(ctx.caller.principal, topic, payload), `emit "${topic.name}"`);
  return { envelope: { ...envelope, payload }, topic };
}

function idOf(encoded: unknown, decoded: Envelope | undefined): string | null {
  if (decoded !== undefined) return decoded.id;
  // The id of an input that failed later checks is still worth echoing, so the client can match it.
  try {
    const raw = typeof encoded === 'string' && encoded.length < 4096 ? (JSON.parse(encoded) as { json?: { id?: unknown } }) : undefined;
    return typeof raw?.json?.id === 'string' ? raw.json.id : null;
  } catch {
    return null;
  }
}

/**
 * Applies a batch of untrusted encoded envelopes from `ctx.caller`, in order. Each item is
 * accepted (with its seq), a duplicate (with the original seq; dedupe by envelope id or
 * idempotency key) or rejected with a code. After a retryable failure (an authorize hook that
 * threw, the store down) the rest of the batch is not applied and gets the same error, so the
 * client's in-order retry never lets a later event overtake an earlier one.
 */
export async function applyClientEmits(target: ClientEmitTarget, ctx: ClientEmitContext, encoded: readonly unknown[]): Promise<EmitAckItem[]> {
  const maxBytes = ctx.maxPayloadBytes ?? DEFAULT_MAX_ENVELOPE_BYTES;
  const results: Array<EmitAckItem | undefined> = new Array(encoded.length);
  const admitted: Envelope[] = [];
  const slots: number[] = [];
  let halt: FeteError | undefined;
  for (let i = 0; i < encoded.length; i++) {
    if (halt) {
      results[i] = rejected(idOf(encoded[i], undefined), halt);
      continue;
    }
    let decoded: Envelope | undefined;
    try {
      const { envelope } = await admit(target, ctx, encoded[i], maxBytes);
      decoded = envelope;
      admitted.push(envelope);
      slots.push(i);
    } catch (err) {
      const e = FeteError.from(err);
      results[i] = rejected(idOf(encoded[i], decoded), e);
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
      const seen = new Map<string, number>();
      outcomes.forEach((o, k) => {
        const slot = slots[k]!;
        const id = admitted[k]!.id;
        if (!o.ok) results[slot] = rejected(id, o.error);
        else if (o.duplicate || seen.has(id)) results[slot] = { id, status: 'duplicate', seq: seen.get(id) ?? o.seq };
        else {
          seen.set(id, o.seq);
          results[slot] = { id, status: 'accepted', seq: o.seq };
        }
      });
    } catch (err) {
      slots.forEach((slot, k) => (results[slot] = rejected(admitted[k]!.id, err)));
    }
  }
  return results as EmitAckItem[];
}
