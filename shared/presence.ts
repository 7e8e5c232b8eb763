// Presence on the wire: who is subscribed to a subject. A member is one principal (by the public id
// the server's `security.publicId` gives it) on one subject, with how many of its connections hold
// a subscription there and the optional state its connections set. Both sides check state here.
import { FeteError } from './errors.js';
import type { WireError } from './protocol.js';

/** A JSON value: what presence state may hold (no Dates or Maps: it travels as plain JSON). */
export type PresenceState = null | boolean | number | string | PresenceState[] | { [key: string]: PresenceState };

/** One principal present on one subject. */
export interface PresenceMember {
  /** The subject it is subscribed to (exactly: a subscription to a pattern with wildcards is not presence). */
  subject: string;
  /** The principal's public id (`security.publicId`), never its internal fields. */
  id: string;
  /** Its connections holding a subscription to `subject`, over every server process. */
  connections: number;
  /** The newest state set for `subject` by one of its connections still there (a state belongs
   * to the connection that set it and goes with it); undefined if none set one. */
  state: PresenceState | undefined;
}

/** A change of one member. `update`: its connection count or state changed (still present). */
export interface PresenceChange {
  type: 'join' | 'leave' | 'update';
  member: PresenceMember;
}

/** Limits of presence, enforced by the server; the client checks state before sending it. */
export const PRESENCE_LIMITS = {
  /** Largest state, in UTF-8 bytes of its JSON text. */
  maxStateBytes: 1024,
  /** Deepest nesting of a state. */
  maxStateDepth: 8,
  /** Most presence watches (`client.presence`) one socket may hold. */
  maxWatchesPerSocket: 32,
  /** Longest public id, in characters. */
  maxIdLength: 128,
} as const;

const encoder = new TextEncoder();
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Checks a presence state and returns its JSON text: plain JSON (null, booleans, finite numbers,
 * strings, arrays, plain objects), at most `maxDepth` deep and `maxBytes` UTF-8 bytes. Throws
 * INVALID_PAYLOAD (other values, too deep), FORBIDDEN_KEY (`__proto__`, `constructor`,
 * `prototype`) or TOO_LARGE.
 */
export function encodePresenceState(state: unknown, maxBytes: number = PRESENCE_LIMITS.maxStateBytes, maxDepth: number = PRESENCE_LIMITS.maxStateDepth): string {
  const check = (v: unknown, depth: number, path: string): void => {
    if (depth > maxDepth) throw new FeteError('INVALID_PAYLOAD', `presence state nests deeper than ${maxDepth} at ${path}`);
    if (v === null || typeof v === 'boolean' || typeof v === 'string') return;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new FeteError('INVALID_PAYLOAD', `presence state at ${path} is not a finite number`);
      return;
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) check(v[i], depth + 1, `${path}[${i}]`);
      return;
    }
    if (typeof v === 'object') {
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto !== Object.prototype && proto !== null) throw new FeteError('INVALID_PAYLOAD', `presence state at ${path} is not a plain object`);
      for (const key of Object.keys(v)) {
        if (FORBIDDEN.has(key)) throw new FeteError('FORBIDDEN_KEY', `presence state holds the key "${key}" at ${path}`);
        check((v as Record<string, unknown>)[key], depth + 1, `${path}.${key}`);
      }
      return;
    }
    throw new FeteError('INVALID_PAYLOAD', `presence state at ${path} is a ${typeof v}: only JSON values are allowed`);
  };
  check(state, 0, 'state');
  const text = JSON.stringify(state);
  const bytes = text.length * 3 <= maxBytes ? text.length : encoder.encode(text).length;
  if (bytes > maxBytes) throw new FeteError('TOO_LARGE', `presence state is ${bytes} bytes, over the limit of ${maxBytes}`, { details: { size: bytes, max: maxBytes } });
  return text;
}

// --- packets ----------------------------------------------------------------------------------

/** `pwatch`: watch the members of the subjects matching `pattern` under the client-chosen `wid`. */
export interface PresenceWatchPacket {
  wid: string;
  pattern: string;
}
/** Ack of `pwatch`: every member now (then `pev` packets for changes), or the refusal. */
export type PresenceWatchAck = { ok: true; members: PresenceMember[] } | { ok: false; error: WireError };
/** `punwatch`: end watch `wid`. */
export interface PresenceUnwatchPacket {
  wid: string;
}
/** `pset`: set this connection's presence state on the subject of subscription `sid`. */
export interface PresenceSetPacket {
  sid: string;
  state: PresenceState;
}
export type PresenceSetAck = { ok: true } | { ok: false; error: WireError };
/** `pev` (server -> client): changes of watch `wid`, after its ack, in the order they happened
 * (those of one moment together, so that a crowd arriving costs few packets). */
export interface PresenceEventPacket {
  wid: string;
  changes: PresenceChange[];
}

/** True for a member as the server sends it (the client checks untrusted input). */
export function isPresenceMember(v: unknown): v is PresenceMember {
  if (v === null || typeof v !== 'object') return false;
  const m = v as Record<string, unknown>;
  return typeof m.subject === 'string' && typeof m.id === 'string' && Number.isSafeInteger(m.connections) && (m.connections as number) >= 0;
}
