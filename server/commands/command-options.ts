// The defaults of `createFete({ commands })`, merged in this one place (see CommandOptions).
import { FeteError } from '../../shared/index.js';
import type { CommandOptions, ResolvedCommandOptions } from './types.js';

function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v < 1) throw new FeteError('INVALID_OPTIONS', `commands.${name} must be a number >= 1, got ${v}`);
  return v;
}

export function resolveCommandOptions(o: CommandOptions = {}): ResolvedCommandOptions {
  // One tenant hook for the whole fete: commands take `security.tenant`, as every door does.
  if ('tenant' in (o as object)) throw new FeteError('INVALID_OPTIONS', 'commands.tenant moved to createFete({ security: { tenant } }), shared by every door');
  return {
    resultTtlMs: positive('resultTtlMs', o.resultTtlMs ?? 86_400_000),
    timeoutMs: positive('timeoutMs', o.timeoutMs ?? 30_000),
    forwardTimeoutMs: positive('forwardTimeoutMs', o.forwardTimeoutMs ?? 10_000),
    pollIntervalMs: positive('pollIntervalMs', o.pollIntervalMs ?? 1000),
    maxInFlightPerPrincipal: Math.floor(positive('maxInFlightPerPrincipal', o.maxInFlightPerPrincipal ?? 32)),
  };
}
