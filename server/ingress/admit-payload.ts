// The payload half of admission, the same for every door: the input has no prototype keys, the
// schema runs exactly once (its output is what listeners and subscribers get), the output reaches
// every receiver unchanged (encodable.ts) and fits the envelope limit. Every fault here is a
// payload fault with one code, never retryable: INVALID_PAYLOAD, FORBIDDEN_KEY or TOO_LARGE.
import { type AnyTopic, type Envelope, FeteError, assertNoForbiddenKeys, subjectOf, validatePayload } from '../../shared/index.js';
import { encodePayloadOf } from '../../shared/codec.js';
import { assertEncodable } from '../../shared/encodable.js';

/** Bytes an envelope holds besides its payload and headers (id, topic, subject, time, seq, keys):
 * headroom so that an admitted payload still fits the receivers' envelope limit. */
const ENVELOPE_OVERHEAD_BYTES = 1024;
const encoder = new TextEncoder();

/** Validates `input` against the topic's schema (once) and checks its output; returns the output
 * and the subject filled from it. */
export async function admitPayload(topic: AnyTopic, input: unknown, maxBytes: number): Promise<{ payload: unknown; subject: string }> {
  // A prototype key is refused as FORBIDDEN_KEY whatever the schema would make of it (a schema that
  // strips unknown keys would otherwise accept here what every client door refuses at decode).
  let payload: unknown;
  try {
    assertNoForbiddenKeys(input);
    payload = await validatePayload(topic, input);
  } catch (err) {
    // A getter or a schema's refinement that throws: the payload cannot be admitted, and saying
    // so beats an INTERNAL that a client would retry forever.
    if (err instanceof FeteError) throw err;
    throw new FeteError('INVALID_PAYLOAD', `topic "${topic.name}": the payload could not be validated: ${describeThrown(err)}`, {
      cause: err,
      details: { topic: topic.name },
    });
  }
  const estimate = assertEncodable(payload, { topic: topic.name });
  if (estimate > maxBytes) throw tooLarge(topic, estimate, maxBytes);
  return { payload, subject: subjectOf(topic, payload) };
}

/** A thrown value's message, read without trusting it (it may be a Proxy or have throwing getters). */
function describeThrown(err: unknown): string {
  try {
    const message = err instanceof Error ? err.message : String(err);
    return typeof message === 'string' ? message.slice(0, 200) : 'unknown error';
  } catch {
    return 'an unreadable thrown value';
  }
}

function tooLarge(topic: AnyTopic, size: number, maxBytes: number): FeteError {
  return new FeteError('TOO_LARGE', `topic "${topic.name}": the event is ${size} bytes or more, over the limit of ${maxBytes}`, {
    details: { topic: topic.name, size, maxBytes },
  });
}

/** Encodes the envelope's payload once (the store reuses the text) and refuses an envelope that
 * would not fit `maxBytes` on the wire. */
export function assertEnvelopeFits(topic: AnyTopic, envelope: Envelope, maxBytes: number): void {
  const text = encodePayloadOf(envelope);
  let size = ENVELOPE_OVERHEAD_BYTES + (text.length * 3 <= maxBytes ? text.length : encoder.encode(text).length);
  for (const [k, v] of Object.entries(envelope.headers)) size += k.length + v.length + 8;
  if (size > maxBytes) throw tooLarge(topic, size, maxBytes);
}
