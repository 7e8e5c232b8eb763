// Tenants: the isolation unit of the log. An event's tenant is its `tenant` header (absent: the
// default tenant ''). The current tenant is an async context, captured into that header by every
// emit and restored around listeners, so a listener's emits stay in its event's tenant.
import { AsyncLocalStorage } from 'node:async_hooks';
import { type Envelope, FeteError, Headers } from '../../shared/index.js';
import { isStorableText } from '../../shared/storable-text.js';
import type { ContextCodec } from '../context/context-registry.js';

/** The tenant of events and principals that have none. Stored as '' (not NULL) so that the
 * per-tenant unique indexes hold for it too. */
export const DEFAULT_TENANT = '';
export const MAX_TENANT_LENGTH = 128;

const storage = new AsyncLocalStorage<string>();

/** Checks a tenant given by the app (the `tenant` hook, `emit({ tenant })`); undefined is the default.
 * Throws INVALID_OPTIONS for a non-string, one over 128 characters, or one with a NUL or a lone surrogate. */
export function validTenant(tenant: unknown, what = 'tenant'): string {
  if (tenant === undefined || tenant === null) return DEFAULT_TENANT;
  if (typeof tenant !== 'string' || tenant.length > MAX_TENANT_LENGTH)
    throw new FeteError('INVALID_OPTIONS', `${what} must be a string of at most ${MAX_TENANT_LENGTH} characters`);
  // Stored as text (a lone surrogate becomes U+FFFD: two tenants would share one) and in the jsonb
  // headers (which refuse it: every emit of the tenant failed STORE_UNAVAILABLE, a false outage).
  if (!isStorableText(tenant)) throw new FeteError('INVALID_OPTIONS', `${what} holds a NUL or a lone surrogate`);
  return tenant;
}

/** Runs `fn` with `tenant` current: emits inside it are stamped with that tenant. Throws
 * INVALID_OPTIONS (before running `fn`) for a tenant `validTenant` refuses. */
export function runInTenant<R>(tenant: string, fn: () => R): R {
  return storage.run(validTenant(tenant, 'runInTenant: tenant'), fn);
}

/** The current tenant (undefined outside `runInTenant` and outside listeners of tenant events). */
export function currentTenant(): string | undefined {
  return storage.getStore();
}

/** The tenant an event belongs to. */
export function tenantOf(e: Pick<Envelope, 'headers'>): string {
  return e.headers[Headers.tenant] ?? DEFAULT_TENANT;
}

/** The tenant as a built-in context carried in the `tenant` header. The default tenant is not
 * written (no header), so single-tenant apps see no change in their envelopes. */
export const tenantCodec: ContextCodec<string> = {
  // Namespaced: apps register codecs of their own, and 'tenant' is a likely name for one.
  name: 'fete.tenant',
  header: Headers.tenant,
  capture: () => {
    const t = storage.getStore();
    return t === undefined || t === DEFAULT_TENANT ? undefined : t;
  },
  restore: (value, run) => storage.run(value, run),
};
