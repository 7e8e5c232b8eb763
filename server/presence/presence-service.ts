// Presence as the rest of the server sees it: which subjects have presence (topics declared
// `presence: true`), who a caller is shown as (`security.publicId`), what may be watched, and the
// server API (`fete.presence`, `fete.observePresence`). The hub (presence-hub.ts) does the work.
//
// What "present on a subject" means: a connection is present on subject S while it holds a live
// subscription whose pattern is exactly S (no wildcard) and S is a subject of a presence topic. A
// subscription to `rooms.*` is a watcher of many rooms, not a member of any. `presence(pattern)`
// lists the members of every subject matching the pattern, each subject separately.
import { type AnyTopic, FeteError, isLiteralPattern, matches, PRESENCE_LIMITS, type PresenceChange, type PresenceMember, type TopicCatalog, validatePattern } from '../../shared/index.js';
import type { LiveChannel } from '../bus/live-channel.js';
import { patternsOverlap } from '../fanout/pattern-overlap.js';
import { isExposed } from '../security/exposure.js';
import type { Security } from '../security/security.js';
import { currentTenant, validTenant } from '../security/tenant.js';
import { PresenceHub } from './presence-hub.js';
import { type PresenceOptions, type ResolvedPresenceOptions, resolvePresenceOptions } from './presence-options.js';
import type { PresenceStore } from './presence-store.js';
import { PresenceObserver } from './presence-observer.js';

/** Options of `fete.presence` and `fete.observePresence`. */
export interface PresenceQueryOptions {
  /** Whose members: this tenant ('' is the default tenant). Presence is always read for one tenant.
   * @default the current tenant (inside a listener or `runInTenant`), else the default tenant */
  tenant?: string;
}

export class PresenceService {
  readonly hub: PresenceHub;
  readonly options: ResolvedPresenceOptions;
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
  }

  /** Whether a subscription to `pattern` makes its connection a member: a subject (no wildcard)
   * of a presence topic. */
  isPresenceSubject(pattern: string): boolean {
    return isLiteralPattern(pattern) && this.#topics.some((t) => matches(t.pattern, pattern));
  }

  /** Refuses to watch a pattern that can match no presence topic's subject (FORBIDDEN), or
   * anything when no `security.publicId` is configured (INVALID_OPTIONS: nobody could be listed). */
  admitWatch(pattern: string): void {
    if (this.#security.publicId === undefined)
      throw new FeteError('INVALID_OPTIONS', 'presence needs createFete({ security: { publicId } }): the public id under which a principal is listed');
    if (this.#topics.some((t) => patternsOverlap(pattern, t.pattern))) return;
    throw new FeteError('FORBIDDEN', `pattern "${pattern}" matches no topic declared presence: true`, { details: { pattern } });
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
