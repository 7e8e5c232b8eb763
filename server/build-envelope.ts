// The server's one place where an emit becomes an envelope: the topic must be in the catalogue,
// the payload passes its schema (sync or async), the subject is filled from the payload, and the
// context codecs capture the emitter's async context. Nothing reaches the store otherwise.
import {
  type AnyTopic,
  type Envelope,
  FeteError,
  Headers,
  type TopicCatalog,
  isUuid,
  subjectOf,
  topicByName,
  uuidv7,
  validateHeaders,
  validatePayload,
} from '../shared/index.js';
import type { Contexts } from './context/context-registry.js';
import { clientHeaders } from './security/client-headers.js';
import { validTenant } from './security/tenant.js';
import type { EmitOptions } from './types.js';

/** The catalogue's topic for `topic` (a topic object or its name), or UNKNOWN_TOPIC. */
export function resolveTopic(catalog: TopicCatalog, topic: AnyTopic | string): AnyTopic {
  const name = typeof topic === 'string' ? topic : topic?.name;
  const found = typeof name === 'string' ? topicByName(catalog, name) : undefined;
  if (!found) throw new FeteError('UNKNOWN_TOPIC', `topic ${JSON.stringify(name)} is not in the catalogue`, { details: { topic: name } });
  return found;
}

export async function buildEnvelope(
  catalog: TopicCatalog,
  contexts: Contexts,
  topicArg: AnyTopic | string,
  payload: unknown,
  options: EmitOptions = {},
): Promise<Envelope> {
  const topic = resolveTopic(catalog, topicArg);
  if (options.id !== undefined && !isUuid(options.id))
    throw new FeteError('MALFORMED', `event id must be a UUID, got ${JSON.stringify(options.id)}`);
  const value = await validatePayload(topic, payload);
  const headers = validateHeaders(options.headers);
  if (options.idempotencyKey !== undefined) {
    if (typeof options.idempotencyKey !== 'string' || options.idempotencyKey.length === 0)
      throw new FeteError('MALFORMED', 'idempotencyKey must be a non-empty string');
    headers[Headers.idempotencyKey] = options.idempotencyKey;
  }
  if (options.tenant !== undefined) headers[Headers.tenant] = validTenant(options.tenant, 'emit tenant');
  const captured = contexts.capture(headers);
  return {
    id: options.id ?? uuidv7(),
    topic: topic.name,
    subject: subjectOf(topic, value),
    time: new Date().toISOString(),
    headers: { ...captured.headers, ...headers },
    payload: value,
    context: captured.context,
  };
}

/** Re-checks an envelope made elsewhere (a browser): topic, payload and subject are recomputed
 * here; the context is captured from this server's async context, never taken from the sender,
 * and so are the `actor`, `tenant` and (unless valid W3C) `traceparent` headers. */
export async function rebuildEnvelope(catalog: TopicCatalog, contexts: Contexts, envelope: Envelope): Promise<Envelope> {
  const topic = resolveTopic(catalog, envelope.topic);
  if (!isUuid(envelope.id)) throw new FeteError('MALFORMED', 'event id must be a UUID');
  const value = await validatePayload(topic, envelope.payload);
  // Server-owned headers (actor, tenant, a malformed traceparent) dropped, the rest size-checked.
  const headers = clientHeaders(validateHeaders(envelope.headers));
  const captured = contexts.capture(headers);
  const time = Number.isNaN(Date.parse(envelope.time)) ? new Date().toISOString() : new Date(envelope.time).toISOString();
  return {
    id: envelope.id,
    topic: topic.name,
    subject: subjectOf(topic, value),
    time,
    headers: { ...captured.headers, ...headers },
    payload: value,
    context: captured.context,
  };
}
