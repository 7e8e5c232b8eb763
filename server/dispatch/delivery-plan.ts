// When an event's deliveries may run, and in which order: the `delayMs` / `runAt` emit options and
// the ordering keys (a listener's `orderBy`, an emit's `orderKey`), checked once here and turned
// into what the append stores (delivery rows' run_at and order_key) or the inline dispatcher uses.
import { type Envelope, FeteError } from '../../shared/index.js';
import { isStorableText } from '../../shared/storable-text.js';
import { type RegisteredListener, listenerMatches } from '../registry.js';
import type { DeliveryPlan } from '../store/event-queries.js';
import type { EmitOptions } from '../types.js';

/** Longest delay accepted (about 10 years): beyond, a typo rather than a plan. */
const MAX_DELAY_MS = 10 * 365 * 24 * 3600 * 1000;
/** Longest ordering key kept (longer keys are an input error, not something to truncate). */
const MAX_KEY_LENGTH = 512;

/** The epoch ms at which deliveries of an emit become due, or undefined for "now". */
export function dueTime(options: EmitOptions | undefined, now = Date.now()): number | undefined {
  if (!options) return undefined;
  const { delayMs, runAt } = options;
  if (delayMs !== undefined && runAt !== undefined) throw new FeteError('INVALID_OPTIONS', 'emit: give delayMs or runAt, not both');
  if (delayMs !== undefined) {
    if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0 || delayMs > MAX_DELAY_MS)
      throw new FeteError('INVALID_OPTIONS', `emit: delayMs must be a number of ms from 0 to ${MAX_DELAY_MS}, got ${String(delayMs)}`);
    return delayMs === 0 ? undefined : now + delayMs;
  }
  if (runAt !== undefined) {
    const ms = runAt instanceof Date ? runAt.getTime() : typeof runAt === 'string' ? Date.parse(runAt) : runAt;
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms > now + MAX_DELAY_MS)
      throw new FeteError('INVALID_OPTIONS', `emit: runAt must be a Date, an ISO time or epoch ms within ${MAX_DELAY_MS} ms, got ${String(runAt)}`);
    return ms <= now ? undefined : ms;
  }
  return undefined;
}

/** A key as stored: a non-empty string of at most MAX_KEY_LENGTH; undefined for "no key". A key
 * the store cannot keep as given (a NUL, a lone surrogate: storable-text.ts), often taken from a
 * browser's payload by `orderBy`, is stored as its JSON text, which is ASCII-escaped and distinct
 * for distinct keys (probe3: a NUL made the append fail STORE_UNAVAILABLE, retried forever). */
export function orderKeyOf(value: unknown, from: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' && typeof value !== 'number')
    throw new FeteError('INVALID_OPTIONS', `${from}: an ordering key must be a string or a number, got ${typeof value}`);
  const key = String(value);
  if (key.length === 0 || key.length > MAX_KEY_LENGTH)
    throw new FeteError('INVALID_OPTIONS', `${from}: an ordering key must have 1 to ${MAX_KEY_LENGTH} characters`);
  return isStorableText(key) ? key : JSON.stringify(key);
}

/** The ordering key of `envelope` for one listener: its `orderBy`, else the emit's `orderKey`. */
export function listenerOrderKey(l: RegisteredListener, envelope: Envelope, eventKey: string | undefined): string | undefined {
  const orderBy = l.options.orderBy;
  if (!orderBy) return eventKey;
  let value: unknown;
  try {
    value = orderBy(envelope.payload, envelope);
  } catch (err) {
    throw new FeteError('INVALID_OPTIONS', `listener "${l.name}": orderBy threw: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
  return orderKeyOf(value, `listener "${l.name}" orderBy`) ?? eventKey;
}

/** The stored plan of one emit: due time and keys for the durable listeners this process knows
 * (by store id) plus '*' (the emit's own key) for the others. Undefined when there is nothing. */
export function planDelivery(envelope: Envelope, options: EmitOptions | undefined, durable: readonly RegisteredListener[]): DeliveryPlan | undefined {
  const due = dueTime(options);
  const eventKey = orderKeyOf(options?.orderKey, 'emit orderKey');
  let keys: Record<string, string> | undefined;
  if (eventKey !== undefined) keys = { '*': eventKey };
  for (const l of durable) {
    if (!l.options.orderBy || l.storeId === undefined || !listenerMatches(l, envelope)) continue;
    const key = listenerOrderKey(l, envelope, eventKey);
    if (key !== undefined) (keys ??= {})[String(l.storeId)] = key;
  }
  if (due === undefined && keys === undefined) return undefined;
  return { runAt: due === undefined ? undefined : new Date(due).toISOString(), orderKeys: keys };
}
