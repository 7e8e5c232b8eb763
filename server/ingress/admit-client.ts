// The client doors of ingress (Socket.IO `emit` packets, POST /fete/emit): untrusted encoded
// envelopes, admitted in this order so that the costly steps run last and only for what may pass:
//   1. size, before parsing (TOO_LARGE); JSON, prototype keys, depth (linear; parseUntrusted)
//   2. the frame: id, topic, headers, read from the parsed JSON without reviving the payload
//   3. topic authorization: catalogue, `clientEmit`, never presentation, an authorize.emit hook
//   4. the payload revived in linear time (superjson-reviver.ts), then admitPayload: the schema
//      once, fidelity, size of the output
//   5. the authorize.emit hook, with the validated payload (what listeners will see)
// Stamping server headers happens at append, inside the sender's principal (stamp-headers.ts).
import {
  type AnyTopic,
  DEFAULT_MAX_ENVELOPE_BYTES,
  type Envelope,
  FeteError,
  type TopicCatalog,
  assertEnvelopeShape,
  isUuid,
  topicByName,
  validateHeaders,
} from '../../shared/index.js';
import { type ParsedSuperjson, checkParsedUntrusted, parseUntrusted, reviveUntrusted } from '../../shared/codec.js';
import type { ClientEmitContext } from '../fanout/types.js';
import { admitPayload, assertEnvelopeFits } from './admit-payload.js';
import { clientHeaders } from '../security/client-headers.js';

/** What can be read of an encoded envelope before its payload is revived. */
export interface EnvelopeFrame {
  raw: ParsedSuperjson;
  id: string;
  topic: string;
  headers: Record<string, string>;
  time: unknown;
}

/** An envelope a door has parsed already (an item of an HTTP body, bounded and checked for
 * prototype keys and depth with the body): superjson's `{ json, meta? }`, or plain JSON as
 * `{ json }`. A class, so that nothing parsed from a socket packet can pose as one. */
export class ParsedEnvelope {
  constructor(readonly raw: unknown) {}
}

/** Steps 1-2: bounded parse and the frame. Throws TOO_LARGE, MALFORMED or FORBIDDEN_KEY. */
export function readFrame(encoded: unknown, maxBytes: number): EnvelopeFrame {
  const raw = encoded instanceof ParsedEnvelope ? checkParsedUntrusted(encoded.raw) : parseUntrusted(encoded, { maxBytes });
  const json = raw.json as Record<string, unknown> | null;
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new FeteError('MALFORMED', 'malformed envelope: not an object');
  if (!isUuid(json.id)) throw new FeteError('MALFORMED', 'malformed envelope: id must be a UUID');
  if (typeof json.topic !== 'string' || json.topic.length === 0 || json.topic.length > 512)
    throw new FeteError('MALFORMED', 'malformed envelope: topic must be a string');
  if (json.headers === undefined) throw new FeteError('MALFORMED', 'malformed envelope: headers are missing');
  return { raw, id: json.id, topic: json.topic, headers: validateHeaders(json.headers), time: json.time };
}

/** Step 3: may a client emit this topic at all? UNKNOWN_TOPIC or FORBIDDEN. */
export function authorizeTopic(catalog: TopicCatalog, name: string, ctx: ClientEmitContext): AnyTopic {
  const topic = topicByName(catalog, name);
  if (topic === undefined) throw new FeteError('UNKNOWN_TOPIC', `topic ${JSON.stringify(name)} is not in the catalogue`, { details: { topic: name } });
  // Presentation events are the server's output; even a misdeclared clientEmit cannot make them input.
  if (topic.kind === 'presentation' || !topic.clientEmit) throw new FeteError('FORBIDDEN', `topic "${topic.name}" cannot be emitted by clients`);
  if (ctx.authorize?.emit === undefined) throw new FeteError('FORBIDDEN', 'no authorize.emit hook: client emits are denied');
  return topic;
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

/** Admits one encoded envelope from a client, up to (not including) the append: the envelope has
 * the schema's output as payload, its subject recomputed from it, and the client's headers
 * without the server's (stamped at append). `frame` is set as soon as it could be read, so a
 * caller can echo the id of a refused envelope. */
export async function admitClientEmit(
  catalog: TopicCatalog,
  ctx: ClientEmitContext,
  encoded: unknown,
  onFrame?: (frame: EnvelopeFrame) => void,
): Promise<Envelope> {
  const maxBytes = ctx.maxPayloadBytes ?? DEFAULT_MAX_ENVELOPE_BYTES;
  const frame = readFrame(encoded, maxBytes);
  onFrame?.(frame);
  const topic = authorizeTopic(catalog, frame.topic, ctx);
  const decoded = reviveUntrusted(frame.raw);
  assertEnvelopeShape(decoded);
  const { payload, subject } = await admitPayload(topic, decoded.payload, maxBytes);
  await allowed(() => ctx.authorize!.emit!(ctx.caller.principal, topic, payload), `emit "${topic.name}"`);
  const time = typeof frame.time === 'string' && !Number.isNaN(Date.parse(frame.time)) ? new Date(frame.time).toISOString() : new Date().toISOString();
  // Server-owned headers (actor, tenant, a malformed traceparent) dropped, the rest size-checked:
  // a refusal here is this envelope's own (TOO_LARGE / MALFORMED), not the batch's.
  const envelope: Envelope = { id: frame.id, topic: topic.name, subject, time, headers: clientHeaders(frame.headers), payload, context: {} };
  assertEnvelopeFits(topic, envelope, maxBytes);
  return envelope;
}
