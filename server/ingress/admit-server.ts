// The server door of ingress: `fete.emit`, `emitMany`, `tx.emit` and a listener's `ctx.emit` make
// their envelopes here. The topic must be in the catalogue, the payload goes through admitPayload
// (schema once, fidelity, size), the server headers are stamped, and the payload is encoded once.
import {
  type AnyTopic,
  DEFAULT_MAX_ENVELOPE_BYTES,
  type Envelope,
  FeteError,
  Headers,
  type TopicCatalog,
  isUuid,
  uuidv7,
  validateHeaders,
} from '../../shared/index.js';
import type { Contexts } from '../context/context-registry.js';
import type { EmitOptions } from '../types.js';
import { admitPayload, assertEnvelopeFits } from './admit-payload.js';
import { resolveTopic } from './resolve-topic.js';
import { validTenant } from '../security/tenant.js';
import { stampEnvelope } from './stamp-headers.js';

export interface ServerIngress {
  catalog: TopicCatalog;
  contexts: Contexts;
  /** Largest envelope an emit may make, in UTF-8 bytes: what every receiver accepts.
   * @default DEFAULT_MAX_ENVELOPE_BYTES (1 MiB) */
  maxEnvelopeBytes?: number;
}

/** Admits one server emit: the envelope to append, or a FeteError (UNKNOWN_TOPIC, MALFORMED for a
 * bad id or header, INVALID_PAYLOAD, FORBIDDEN_KEY, TOO_LARGE; none retryable). */
export async function admitServerEmit(ingress: ServerIngress, topicArg: AnyTopic | string, input: unknown, options: EmitOptions = {}): Promise<Envelope> {
  const topic = resolveTopic(ingress.catalog, topicArg);
  if (options.id !== undefined && !isUuid(options.id))
    throw new FeteError('MALFORMED', `event id must be a UUID, got ${JSON.stringify(options.id)}`);
  const headers = validateHeaders(options.headers);
  if (options.idempotencyKey !== undefined) {
    if (typeof options.idempotencyKey !== 'string' || options.idempotencyKey.length === 0)
      throw new FeteError('MALFORMED', 'idempotencyKey must be a non-empty string');
    headers[Headers.idempotencyKey] = options.idempotencyKey;
  }
  // An explicit tenant wins over the one the tenant codec captures from the async context.
  if (options.tenant !== undefined) headers[Headers.tenant] = validTenant(options.tenant, 'emit tenant');
  const maxBytes = ingress.maxEnvelopeBytes ?? DEFAULT_MAX_ENVELOPE_BYTES;
  const { payload, subject } = await admitPayload(topic, input, maxBytes);
  const envelope: Envelope = {
    id: options.id ?? uuidv7(),
    topic: topic.name,
    subject,
    time: new Date().toISOString(),
    headers,
    payload,
    context: {},
  };
  stampEnvelope(ingress.contexts, envelope, 'server');
  assertEnvelopeFits(topic, envelope, maxBytes);
  return envelope;
}
