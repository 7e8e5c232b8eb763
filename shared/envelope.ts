// The envelope: one event on the wire and in storage. `createEnvelope` is the single place where a
// payload becomes an event: it validates the payload, fills the subject from it, and stamps id/time.
import { FeteError } from './errors.js';
import { isStorableText } from './storable-text.js';
import { isValidSubject } from './subject.js';
import { type AnyTopic, type InputOf, type PayloadOf, type TemplateOf, subjectOf, validatePayloadSync } from './topic.js';
import { isUuid, uuidv7 } from './uuid.js';

/** Header names fete itself reads; any other string header is a user property. */
export const Headers = {
  tenant: 'tenant',
  actor: 'actor',
  traceparent: 'traceparent',
  idempotencyKey: 'idempotency-key',
} as const;

export interface Envelope<TPayload = unknown, TTopic extends string = string> {
  /** UUIDv7 (or a client-given UUID); the idempotency key unless the `idempotency-key` header is set. */
  id: string;
  /** The topic's name (its template). */
  topic: TTopic;
  subject: string;
  /** ISO 8601 time of creation. */
  time: string;
  headers: Record<string, string>;
  payload: TPayload;
  /** Values captured by context codecs at emit, restored around listeners. */
  context: Record<string, unknown>;
  /** The store's offset, assigned when appended; absent before, and on `volatile` and `latest`
   * events, which are not in the log. */
  seq?: number;
  /** Set on events of a `volatile` topic as they are received: sent live only, never replayed.
   * They carry no seq and do not move a subscription's cursor. */
  volatile?: true;
  /** Set on events of a `latest` topic as they are received: the per-(tenant, subject) version of
   * this value (a positive integer that grows with every change of the subject). A receiver
   * drops a value whose version is not above the last one it has for the subject. No seq. */
  version?: number;
}

/** The envelope type of a topic. */
export type EnvelopeOf<T> = T extends AnyTopic ? Envelope<PayloadOf<T>, TemplateOf<T>> : never;

export interface CreateEnvelopeOptions {
  id?: string;
  headers?: Record<string, string>;
  context?: Record<string, unknown>;
  /** Overrides the creation time (tests, imports). */
  time?: Date;
}

/** A plain `{}` (or null-prototype) object: not an array, Map, Date or class instance, which
 * superjson can produce from untrusted input and which would pass a bare `typeof` check. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}


/** Checks a header map: a plain object of string values, with no NUL or lone surrogate. */
export function validateHeaders(headers: unknown): Record<string, string> {
  if (headers === undefined) return {};
  if (!isPlainObject(headers)) throw new FeteError('MALFORMED', 'headers must be an object of strings');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (typeof v !== 'string') throw new FeteError('MALFORMED', `header "${k}" must be a string`);
    // The store keeps headers as jsonb, which refuses both (a store error that would look retryable).
    if (!isStorableText(k) || !isStorableText(v)) throw new FeteError('MALFORMED', `header ${JSON.stringify(k)} holds a NUL or a lone surrogate`);
    out[k] = v;
  }
  return out;
}

/** Validates `payload` against the topic, fills the subject and stamps id and time. */
export function createEnvelope<T extends AnyTopic>(
  topic: T,
  payload: InputOf<T>,
  options: CreateEnvelopeOptions = {},
): Envelope<PayloadOf<T>, TemplateOf<T>> {
  if (options.id !== undefined && !isUuid(options.id))
    throw new FeteError('MALFORMED', `envelope id must be a UUID, got ${JSON.stringify(options.id)}`);
  const value = validatePayloadSync(topic, payload);
  return {
    id: options.id ?? uuidv7(),
    topic: topic.name as TemplateOf<T>,
    subject: subjectOf(topic, value),
    time: (options.time ?? new Date()).toISOString(),
    headers: validateHeaders(options.headers),
    payload: value,
    context: options.context ?? {},
  };
}

/** The key that makes an emit idempotent: the `idempotency-key` header, else the envelope id. */
export function idempotencyKeyOf(envelope: Pick<Envelope, 'id' | 'headers'>): string {
  return envelope.headers[Headers.idempotencyKey] ?? envelope.id;
}

/** Shape check for an envelope that came from outside (wire, storage). Throws MALFORMED. */
export function assertEnvelopeShape(value: unknown): asserts value is Envelope {
  const bad = (m: string) => new FeteError('MALFORMED', `malformed envelope: ${m}`);
  if (!isPlainObject(value)) throw bad('not an object');
  const e = value as Record<string, unknown>;
  if (!isUuid(e.id)) throw bad('id must be a UUID');
  if (typeof e.topic !== 'string' || e.topic.length === 0 || e.topic.length > 512) throw bad('topic must be a string');
  if (!isValidSubject(e.subject)) throw bad('subject is not a valid subject');
  if (typeof e.time !== 'string' || Number.isNaN(Date.parse(e.time))) throw bad('time must be an ISO date string');
  validateHeaders(e.headers);
  if (e.headers === undefined) throw bad('headers are missing');
  if (!isPlainObject(e.context)) throw bad('context must be an object');
  if (e.seq !== undefined && !(Number.isSafeInteger(e.seq) && (e.seq as number) > 0)) throw bad('seq must be a positive integer');
  if (e.volatile !== undefined && e.volatile !== true) throw bad('volatile must be true when present');
  if (e.version !== undefined && !(Number.isSafeInteger(e.version) && (e.version as number) > 0)) throw bad('version must be a positive integer');
  if ((e.volatile !== undefined || e.version !== undefined) && (e.seq !== undefined || (e.volatile !== undefined && e.version !== undefined)))
    throw bad('an event is either in the log (seq), volatile or a latest value (version)');
  if (!('payload' in e)) throw bad('payload is missing');
}
