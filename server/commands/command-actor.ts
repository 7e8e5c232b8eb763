// Who a command belongs to in the result ledger (command_results.actor): the principal's actor
// (its `id`, or the principal itself when a string; context/principal.ts `actorOf`) when it has
// one, else a digest of the whole principal value. Without the digest, every principal without
// an `id` (an e-mail, a session object) was the same NULL actor: two members of one tenant read
// each other's recorded results by command id and got them by retrying the other's id.
import { createHash } from 'node:crypto';
import superjson from 'superjson';
import { FeteError } from '../../shared/index.js';
import { actorOf } from '../context/principal.js';

/** Marks a digest, so it cannot be mistaken for an app's `id` that looks like hex. */
const DIGEST_PREFIX = 'principal:sha256:';

/** The ledger's actor of `principal`: `actorOf(principal)`; null for no principal (undefined or
 * null: server code outside `runAs`, `auth: 'anonymous'`, all one caller); otherwise
 * `principal:sha256:<hex>` of its superjson form with object keys sorted, so the same value read
 * back after a reload or forwarded to another process is the same actor. A principal whose fields
 * change between calls (a token's expiry) is then another actor: give principals an `id`.
 * Throws INTERNAL for a principal superjson cannot serialize (a cycle). */
export function commandActor(principal: unknown): string | null {
  const actor = actorOf(principal);
  if (actor !== undefined) return actor;
  if (principal === undefined || principal === null) return null;
  let text: string;
  try {
    text = canonical(superjson.serialize(principal));
  } catch (err) {
    throw new FeteError('INTERNAL', 'a principal without an id must be serializable to own a command result (give it an `id`)', { cause: err });
  }
  return DIGEST_PREFIX + createHash('sha256').update(text).digest('hex');
}

/** JSON with object keys in sorted order (superjson's output is plain JSON values). */
function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
}
