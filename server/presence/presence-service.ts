// Presence as the rest of the server sees it: which subjects have presence (topics declared
// `presence: true`), who a caller is shown as (`security.publicId`), what may be watched, and the
// server API (`fete.presence`, `fete.observePresence`). The hub (presence-hub.ts) does the work.
//
// What "present on a subject" means: a connection is present on subject S while it holds a live
// subscription whose pattern is exactly S (no wildcard) and S is a subject of a presence topic. A
// subscription to `rooms.*` is a watcher of many rooms, not a member of any. `presence(pattern)`
// lists the members of every subject matching the pattern, each subject separately.
import { type AnyTopic, encodePresenceState, FeteError, isLiteralPattern, matches, PRESENCE_LIMITS, type PresenceChange, type PresenceMember, type TopicCatalog, validatePattern } from '../../shared/index.js';
import type { LiveChannel } from '../bus/live-channel.js';
import { patternsOverlap } from '../fanout/pattern-overlap.js';
import { allowed } from '../ingress/admit-client.js';
import { isExposed } from '../security/exposure.js';
import type { Caller, Security } from '../security/security.js';
import { CallerLimits } from './presence-limits.js';
import { currentTenant, validTenant } from '../security/tenant.js';
import { PresenceHub } from './presence-hub.js';
import { type PresenceOptions, type ResolvedPresenceOptions, resolvePresenceOptions } from './presence-options.js';
import type { PresenceStore } from './presence-store.js';
import { PresenceObserver } from './presence-observer.js';

/** What a subscription asked of presence, checked: listed or not, with the state's JSON. */
export type SubPresence = { listed: boolean; state: string | undefined };

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Options of `fete.presence` and `fete.observePresence`. */
export interface PresenceQueryOptions {
  /** Whose members: this tenant ('' is the default tenant). Presence is always read for one tenant.
   * @default the current tenant (inside a listener or `runInTenant`), else the default tenant */
  tenant?: string;
}

export class PresenceService {
  readonly hub: PresenceHub;
  readonly options: ResolvedPresenceOptions;
  /** Watches of callers without a connection of their own (the HTTP door), per principal. */
  readonly callers: CallerLimits;
  readonly #topics: AnyTopic[];
  readonly #security: Security;

  constructor(catalog: TopicCatalog, security: Security, store: PresenceStore, channel: LiveChannel, options?: PresenceOptions, exclusive = false) {
    this.options = resolvePresenceOptions(options);
    // A state travels in a live message as its JSON text inside JSON: escaping `"` and `\` can
    // make it up to twice as long. Refused here rather than lost at runtime.
    const max = channel.maxMessageBytes;
    if (max !== undefined && 2 * this.options.maxStateBytes + 512 > max)
      throw new FeteError('INVALID_OPTIONS', `presence.maxStateBytes (${this.options.maxStateBytes}) is too large for the live channel (${channel.transport}: messages of at most ${max} bytes); at most ${Math.floor((max - 512) / 2)}`);
    this.#topics = Object.values(catalog).filter((t) => t.presence && isExposed(t));
    this.#security = security;
    this.hub = new PresenceHub(store, channel, this.options, exclusive);
    this.callers = new CallerLimits(this.options.maxStateUpdatesPerSecond, PRESENCE_LIMITS.maxWatchesPerSocket);
  }

  /**
   * What a subscription to `pattern` asks of presence, from every door (a socket `sub` packet's
   * `presence` field, the SSE stream's `presence` parameter): undefined when it has nothing to do
   * with presence (no `presence` given and not a presence subject), else listed or not, with the
   * state's JSON. `presence` is undefined/null (listed, no state), false (not listed) or
   * `{ state }`. Throws MALFORMED, INVALID_PAYLOAD, FORBIDDEN_KEY or TOO_LARGE (the state).
   */
  admitSub(pattern: string, presence: unknown): SubPresence | undefined {
    if ((presence === undefined || presence === null) && !this.isPresenceSubject(pattern)) return undefined;
    if (presence === undefined || presence === null) return { listed: true, state: undefined };
    if (presence === false) return { listed: false, state: undefined };
    if (!isObject(presence)) throw new FeteError('MALFORMED', 'presence must be false or { state }');
    const state = presence.state === undefined ? undefined : encodePresenceState(presence.state, this.options.maxStateBytes);
    return { listed: true, state };
  }

  /**
   * The one check of a presence watch, whatever the door (a socket's `pwatch`, GET /presence):
   * the pattern is valid, can match a presence topic's subject, and `authorize.subscribe` allows
   * the caller to subscribe to it (watching who is subscribed reveals no less than subscribing).
   * Returns the pattern. Throws InvalidPatternError, FORBIDDEN (no presence topic, or refused),
   * INVALID_OPTIONS (no `security.publicId`), INTERNAL (the hook threw).
   */
  async admitWatcher(caller: Caller, rawPattern: unknown): Promise<string> {
    const pattern = validatePattern(rawPattern);
    this.admitWatch(pattern);
    const hook = this.#security.authorize.subscribe;
    if (hook) await allowed(() => hook(caller.principal, pattern), `watch presence on "${pattern}"`);
    return pattern;
  }

  /** Whether a subscription to `pattern` makes its connection a member: a subject (no wildcard)
   * of a presence topic. */
  isPresenceSubject(pattern: string): boolean {
    return isLiteralPattern(pattern) && this.#topics.some((t) => matches(t.pattern, pattern));
  }

  /** Refuses to watch a pattern that can match no presence topic's subject (FORBIDDEN), or
   * anything when no `security.publicId` is configured (INVALID_OPTIONS: nobody could be listed). */
  admitWatch(pattern: string): void {
    // The caller's mistake before the server's: an app without presence topics answers any watch
    // 403, never a 500 for the missing hook (HTTP maps INVALID_OPTIONS to 500).
    if (!this.#topics.some((t) => patternsOverlap(pattern, t.pattern)))
      throw new FeteError('FORBIDDEN', `pattern "${pattern}" matches no topic declared presence: true`, { details: { pattern } });
    if (this.#security.publicId === undefined)
      throw new FeteError('INVALID_OPTIONS', 'presence needs createFete({ security: { publicId } }): the public id under which a principal is listed');
  }

  /** The id `principal` is listed under, or undefined (not listed). Throws INTERNAL when the hook
   * throws or answers something other than a string of 1 to 128 characters or undefined. */
  publicIdOf(principal: unknown): string | undefined {
    const hook = this.#security.publicId;
    if (!hook) return undefined;
    let id: unknown;
    try {
      id = hook(principal);
    } catch (err) {
      throw FeteError.from(err, 'INTERNAL');
    }
    if (id === undefined || id === null) return undefined;
    if (typeof id !== 'string' || id.length === 0 || id.length > PRESENCE_LIMITS.maxIdLength)
      throw new FeteError('INTERNAL', `security.publicId must answer a string of 1 to ${PRESENCE_LIMITS.maxIdLength} characters or undefined`);
    return id;
  }

  /** `fete.presence(pattern)`: the members now, over every process, for one tenant. */
  async members(pattern: string, options: PresenceQueryOptions = {}): Promise<PresenceMember[]> {
    return this.hub.members(tenantFor(options), checkedPattern(pattern));
  }

  /** `fete.observePresence(pattern)`: the members now, then every change. */
  observe(pattern: string, options: PresenceQueryOptions & { onChange?: (change: PresenceChange) => void } = {}): PresenceObserver {
    return new PresenceObserver(this.hub, tenantFor(options), checkedPattern(pattern), options.onChange);
  }

  start(): Promise<void> {
    return this.hub.start();
  }

  stop(): Promise<void> {
    return this.hub.stop();
  }
}

function tenantFor(o: PresenceQueryOptions): string {
  if (o === null || typeof o !== 'object') throw new FeteError('INVALID_OPTIONS', 'presence options must be an object { tenant }');
  return validTenant(o.tenant ?? currentTenant(), 'presence: tenant');
}

/** Throws InvalidPatternError for a malformed pattern. */
function checkedPattern(pattern: string): string {
  return validatePattern(pattern);
}
