// Envelopes as the server sends them to browsers (`ev` / `evs`): superjson's `{ json, meta }` as a
// JSON *object* inside the Socket.IO packet, not as text. Socket.IO parses the packet once and the
// envelope comes out with it; sending text made every receiver JSON.parse a second time (in the
// fanout benchmark, 500 subscribers, that was ~1/3 of the clients' CPU).
// Decoding keeps codec.ts's checks for untrusted input: a size bound (estimated from the parsed
// value: the frame is already parsed when we see it), no prototype keys, bounded depth, and, when
// superjson meta is present, the full `decodeValue` path (its meta path and annotation checks).
import superjson from 'superjson';
import { DEFAULT_MAX_ENVELOPE_BYTES, MAX_DECODE_DEPTH, decodeValue, type DecodeOptions } from './codec.js';
import { assertEnvelopeShape, type Envelope } from './envelope.js';
import { FeteError } from './errors.js';

/** superjson's serialized form of an envelope: `json` is plain JSON, `meta` says how to revive
 * Dates, Maps, Sets, BigInts and undefined in it (absent when there are none). */
export interface WireEnvelope {
  json: unknown;
  meta?: unknown;
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** The wire form of an envelope (once per event: the same object goes to every receiver). */
export function toWireEnvelope(envelope: Envelope): WireEnvelope {
  return superjson.serialize(envelope) as WireEnvelope;
}

/**
 * One pass over parsed JSON: refuses prototype keys and nesting past `maxDepth`, and estimates
 * the value's size as the UTF-16 length of its strings and keys plus one per value. The estimate
 * is below the JSON text's length (no quotes, commas or escapes), so anything it refuses was over
 * the limit as text too; a value within ~30% under the limit may pass where decodeValue would
 * refuse it. Every visited value costs at least one unit, so the walk itself is bounded by the
 * limit even for an in-process object with shared subtrees.
 */
function assertBoundedJson(value: unknown, maxBytes: number, maxDepth: number): void {
  let size = 0;
  const values: unknown[] = [value];
  const depths: number[] = [0];
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop()!;
    size++;
    if (typeof v === 'string') size += v.length;
    else if (v !== null && typeof v === 'object') {
      if (depth >= maxDepth) throw new FeteError('MALFORMED', `input is nested deeper than ${maxDepth} levels`);
      const next = depth + 1;
      if (Array.isArray(v)) for (let i = 0; i < v.length; i++) values.push(v[i]), depths.push(next);
      else
        for (const key in v) {
          if (!Object.hasOwn(v, key)) continue;
          if (FORBIDDEN_KEYS.has(key)) throw new FeteError('FORBIDDEN_KEY', `forbidden key "${key}" in decoded input`);
          size += key.length;
          values.push((v as Record<string, unknown>)[key]), depths.push(next);
        }
    }
    if (size > maxBytes)
      throw new FeteError('TOO_LARGE', `message of more than ${maxBytes} bytes exceeds the limit`, { details: { maxBytes } });
  }
}

/** Decodes an envelope received as a wire object (`ev.e`, `evs.es[i]`): untrusted, so bounded,
 * prototype-safe and shape-checked, like `decodeEnvelope` on text. */
export function decodeWireEnvelope(value: unknown, options: DecodeOptions = {}): Envelope {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_ENVELOPE_BYTES;
  if (value === null || typeof value !== 'object' || Array.isArray(value) || !('json' in value))
    throw new FeteError('MALFORMED', 'an envelope on the wire must be superjson ({ json, meta })');
  assertBoundedJson(value, maxBytes, options.maxDepth ?? MAX_DECODE_DEPTH);
  const meta = (value as WireEnvelope).meta;
  let decoded: unknown;
  if (meta === undefined) {
    // Plain JSON (no Date, Map, undefined...): superjson would only deep-copy it, and the walk
    // above has already refused every key that could reach a prototype.
    decoded = (value as WireEnvelope).json;
  } else {
    // Rare for envelopes (the envelope's own fields are strings); the text path holds every
    // check superjson's meta needs, so use it rather than repeat them here.
    decoded = decodeValue(JSON.stringify(value), options);
  }
  assertEnvelopeShape(decoded);
  return decoded;
}
