// The acting principal (the user or service on whose behalf code runs), as a built-in context:
// `runAs(principal, fn)` makes it current, emits capture it into `envelope.context.principal`, and
// listeners run as it again. Its `id` (if a string or number) also fills the `actor` header.
import { AsyncLocalStorage } from 'node:async_hooks';
import { FeteError, Headers } from '../../shared/index.js';
import { isStorableText } from '../../shared/storable-text.js';
import type { ContextCodec } from './context-registry.js';

/** Any superjson-serializable value; `{ id }` objects also name the actor in headers. */
export type Principal = unknown;

const storage = new AsyncLocalStorage<Principal>();

/** Runs `fn` with `principal` as the current principal (for emits and nested code). */
export function runAs<R>(principal: Principal, fn: () => R): R {
  return storage.run(principal, fn);
}

/** The current principal, or undefined outside `runAs` and outside listeners of events emitted in one. */
export function currentPrincipal<P = Principal>(): P | undefined {
  return storage.getStore() as P | undefined;
}

/** Who a principal is, as the `actor` header says it: a string principal itself, else its `id`
 * (a string or number); undefined for anything else. Throws INVALID_OPTIONS when that text holds a
 * NUL or a lone surrogate: the actor is a jsonb header (which refuses both: the emit failed
 * STORE_UNAVAILABLE) and the owner of command results (where 'bob\ud800' and 'bob\udc00' would be
 * one owner, stored as U+FFFD). Every door calls it when it authenticates, refusing such a caller. */
export function actorOf(p: Principal): string | undefined {
  let actor: string | undefined;
  if (typeof p === 'string') actor = p;
  else if (p !== null && typeof p === 'object') {
    const id = (p as { id?: unknown }).id;
    if (typeof id === 'string' || typeof id === 'number') actor = String(id);
  }
  if (actor !== undefined && !isStorableText(actor)) throw new FeteError('INVALID_OPTIONS', "a principal's id (or a string principal) must not hold a NUL or a lone surrogate");
  return actor;
}

export const principalCodec: ContextCodec<Principal> = {
  name: 'principal',
  capture: () => storage.getStore(),
  restore: (value, run) => storage.run(value, run),
  headers: (value) => {
    const actor = actorOf(value);
    return actor === undefined ? undefined : { [Headers.actor]: actor };
  },
};
