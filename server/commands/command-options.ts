// The defaults of `createFete({ commands })`, merged in this one place (see CommandOptions).
import { FeteError } from '../../shared/index.js';
import type { CommandOptions, ResolvedCommandOptions } from './types.js';

/** `principal.tenant` when it is a string: the common shape of a session principal. */
function defaultTenant(principal: unknown): string | undefined {
  const t = principal !== null && typeof principal === 'object' ? (principal as { tenant?: unknown }).tenant : undefined;
  return typeof t === 'string' ? t : undefined;
}

function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v < 1) throw new FeteError('INVALID_OPTIONS', `commands.${name} must be a number >= 1, got ${v}`);
  return v;
}

export function resolveCommandOptions(o: CommandOptions = {}): ResolvedCommandOptions {
  if (o.tenant !== undefined && typeof o.tenant !== 'function') throw new FeteError('INVALID_OPTIONS', 'commands.tenant must be a function (principal) => string | undefined');
  return {
    tenant: o.tenant ?? defaultTenant,
    resultTtlMs: positive('resultTtlMs', o.resultTtlMs ?? 86_400_000),
    timeoutMs: positive('timeoutMs', o.timeoutMs ?? 30_000),
    forwardTimeoutMs: positive('forwardTimeoutMs', o.forwardTimeoutMs ?? 10_000),
    pollIntervalMs: positive('pollIntervalMs', o.pollIntervalMs ?? 1000),
  };
}
