// What the client accepts from the server, checked at the edge: acks and packets come off the
// network, so their shape is verified before use, and a wire error with a code this client does not
// know (a newer server) becomes INTERNAL instead of a FeteError whose `retryable` would throw.
import { FeteError, FeteErrorCode, isEpoch, isPresenceMember, type EmitAck, type EmitAckItem, type PresenceSetAck, type PresenceWatchAck, type SubAck, type WireError } from '../shared/index.js';

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object';
}

function isWireError(value: unknown): value is WireError {
  return isObject(value) && typeof value.code === 'string' && typeof value.message === 'string';
}

function isSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** A FeteError from a wire error; unknown codes become INTERNAL with the original code in details. */
export function fromWireError(error: WireError): FeteError {
  const known = Object.hasOwn(FeteErrorCode, error.code);
  return new FeteError(known ? error.code : 'INTERNAL', error.message, known ? {} : { details: { code: error.code } });
}

export function isSubAck(value: unknown): value is SubAck {
  if (!isObject(value)) return false;
  return value.ok === true ? isSeq(value.cursor) && isEpoch(value.epoch) : value.ok === false && isWireError(value.error);
}

function isVersion(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}

/** A taken item carries a log `seq`, a latest `version`, or neither (volatile), never both. A
 * `seq: 0` (older servers answered it for volatile and latest topics) is taken, as no position. */
function isEmitAckItem(value: unknown): value is EmitAckItem {
  if (!isObject(value)) return false;
  if (value.status === 'accepted' || value.status === 'duplicate') {
    if (typeof value.id !== 'string') return false;
    if (value.seq !== undefined) return isSeq(value.seq) && value.version === undefined;
    return value.version === undefined || isVersion(value.version);
  }
  return value.status === 'rejected' && (value.id === null || typeof value.id === 'string') && isWireError(value.error);
}

export function isEmitAck(value: unknown): value is EmitAck {
  if (!isObject(value)) return false;
  if (value.ok === false) return isWireError(value.error);
  return value.ok === true && Array.isArray(value.results) && value.results.every(isEmitAckItem);
}

export function isPresenceWatchAck(value: unknown): value is PresenceWatchAck {
  if (!isObject(value)) return false;
  if (value.ok === false) return isWireError(value.error);
  return value.ok === true && Array.isArray(value.members) && value.members.every(isPresenceMember);
}

export function isPresenceSetAck(value: unknown): value is PresenceSetAck {
  return isObject(value) && (value.ok === true || (value.ok === false && isWireError(value.error)));
}

/** Codes that say the *entry* is wrong (schema, auth, unknown topic...): retrying the same envelope
 * can never succeed, so it leaves the queue for the rejected list. Every other code, including
 * INTERNAL and CLOSED, which are the server's own failures, is retried with backoff: an outbox
 * must not drop a user's action because the server had a bad moment. */
const PERMANENT: ReadonlySet<FeteErrorCode> = new Set<FeteErrorCode>([
  'INVALID_SUBJECT',
  'INVALID_PATTERN',
  'INVALID_TOPIC',
  'INVALID_PAYLOAD',
  'MALFORMED',
  'FORBIDDEN_KEY',
  'TOO_LARGE',
  'UNKNOWN_TOPIC',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'CONFLICT',
  'NOT_FOUND',
  'INVALID_OPTIONS',
]);

export function isPermanent(error: FeteError): boolean {
  return PERMANENT.has(error.code);
}
