// The body of POST /emit, from untrusted JSON to envelopes for `applyClientEmits` (ingress). Each item
// is one of three forms (a batch may mix them):
//   { "topic": "orders.{orderId}.created", "payload": {...}, "id"?: uuid, "headers"?: {...},
//     "idempotencyKey"?: string }                          plain JSON (what most HTTP callers send)
//   { "json": {...envelope...}, "meta"?: {...} }           a superjson envelope (Date, Map, BigInt...)
//   "<superjson text>"                                     the same, as encodeEnvelope's string
// Plain items are turned into an envelope here only as far as the wire shape needs, and handed on
// as parsed JSON (no superjson round trip: -0 and 1e400 = Infinity arrive as JSON.parse read them);
// topic, schema, subject and authorization are all checked by ingress, exactly as on sockets.
import { FeteError, Headers, type TopicCatalog, isUuid, subjectOf, topicByName, uuidv7 } from '../../shared/index.js';
import { ParsedEnvelope } from '../ingress/admit-client.js';

/** A placeholder subject for plain items whose subject cannot be computed here (unknown topic, bad
 * payload): the emit path recomputes the subject from topic and payload and reports the real error. */
const PLACEHOLDER_SUBJECT = 'unresolved';

export interface EmitRequest {
  /** The body was an array: answer per item with 200/207. A single object: answer with its status. */
  batch: boolean;
  items: unknown[];
}

/** Splits the parsed body into items. Throws request-level errors (empty, too many, wrong type). */
export function emitItemsOf(body: unknown, maxBatch: number): EmitRequest {
  if (Array.isArray(body)) {
    if (body.length === 0) throw new FeteError('MALFORMED', 'an emit batch must hold at least one item');
    if (body.length > maxBatch)
      throw new FeteError('TOO_LARGE', `an emit batch holds at most ${maxBatch} items, got ${body.length}`, { details: { maxBatch } });
    return { batch: true, items: body };
  }
  if ((body !== null && typeof body === 'object') || typeof body === 'string') return { batch: false, items: [body] };
  throw new FeteError('MALFORMED', 'the body must be an emit item or an array of them');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The id an item claims, for reporting a rejection before it was decoded. */
export function claimedId(item: unknown): string | null {
  if (!isRecord(item)) return null;
  const id = isRecord(item.json) ? item.json.id : item.id;
  return typeof id === 'string' ? id : null;
}

/** One item as ingress input: superjson text as is, a parsed envelope otherwise. Throws MALFORMED
 * when it is none of the three forms. */
export function encodeEmitItem(item: unknown, catalog: TopicCatalog): string | ParsedEnvelope {
  if (typeof item === 'string') return item;
  if (!isRecord(item)) throw new FeteError('MALFORMED', 'an emit item must be an object (or superjson text)');
  if ('json' in item) return new ParsedEnvelope(item);
  const { topic, payload, id, headers, idempotencyKey } = item;
  if (typeof topic !== 'string' || topic.length === 0) throw new FeteError('MALFORMED', 'an emit item needs "topic" (a topic name)');
  if (!('payload' in item)) throw new FeteError('MALFORMED', 'an emit item needs "payload"');
  if (id !== undefined && !isUuid(id)) throw new FeteError('MALFORMED', '"id" must be a UUID');
  if (headers !== undefined && !isRecord(headers)) throw new FeteError('MALFORMED', '"headers" must be an object of strings');
  if (idempotencyKey !== undefined && (typeof idempotencyKey !== 'string' || idempotencyKey.length === 0))
    throw new FeteError('MALFORMED', '"idempotencyKey" must be a non-empty string');
  const merged: Record<string, unknown> = { ...headers };
  if (idempotencyKey !== undefined) merged[Headers.idempotencyKey] = idempotencyKey;
  const json = {
    id: id ?? uuidv7(),
    topic,
    subject: subjectOrPlaceholder(catalog, topic, payload),
    time: new Date().toISOString(),
    headers: merged,
    payload,
    context: {},
  };
  return new ParsedEnvelope({ json });
}

function subjectOrPlaceholder(catalog: TopicCatalog, name: string, payload: unknown): string {
  const topic = topicByName(catalog, name);
  if (!topic) return PLACEHOLDER_SUBJECT;
  try {
    return subjectOf(topic, payload as never);
  } catch {
    return PLACEHOLDER_SUBJECT;
  }
}
