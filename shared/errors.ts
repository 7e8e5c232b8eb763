// One error type for all of fete: a FeteError carries a `code` from the single map below,
// `retryable` derived from that code, and the original `cause`. Subclasses exist only where
// callers branch with `instanceof` (subject and pattern validation).
import { inspectThrown, keepableCause } from './describe-thrown.js';

/** Every error code fete raises, with what it means. `retryable` says whether trying the same
 * operation again later can succeed without changing the input. */
export const FeteErrorCode = {
  /** A subject is malformed: empty token, forbidden character, too many tokens or bytes. */
  INVALID_SUBJECT: { retryable: false },
  /** A pattern is malformed: as a subject, plus `>` anywhere but last, or `*`/`>` inside a token. */
  INVALID_PATTERN: { retryable: false },
  /** A topic declaration is malformed (bad template, unknown kind, duplicate name). */
  INVALID_TOPIC: { retryable: false },
  /** A payload failed its topic's schema, or a template parameter is missing or not a valid token. */
  INVALID_PAYLOAD: { retryable: false },
  /** An envelope or message could not be decoded, or has the wrong shape. */
  MALFORMED: { retryable: false },
  /** Decoded input holds a `__proto__`, `constructor` or `prototype` key (prototype pollution). */
  FORBIDDEN_KEY: { retryable: false },
  /** Input is larger than the configured limit. */
  TOO_LARGE: { retryable: false },
  /** The topic is not in the catalogue. */
  UNKNOWN_TOPIC: { retryable: false },
  /** No valid credentials (handshake auth refused). */
  UNAUTHORIZED: { retryable: false },
  /** Credentials are valid but the action is not allowed (subscribe/emit denied). */
  FORBIDDEN: { retryable: false },
  /** A name is already taken (listener registered twice under one name). */
  CONFLICT: { retryable: false },
  /** The thing asked for does not exist (delivery id, listener). */
  NOT_FOUND: { retryable: false },
  /** The object was closed or stopped; nothing more is accepted. */
  CLOSED: { retryable: false },
  /** The operation was aborted by its caller's AbortSignal. */
  ABORTED: { retryable: false },
  /** The operation did not finish in time. */
  TIMEOUT: { retryable: true },
  /** The store is in use by another process (an embedded data directory is locked). */
  STORE_LOCKED: { retryable: false },
  /** The store failed (connection lost, serialization failure); the operation may succeed later. */
  STORE_UNAVAILABLE: { retryable: true },
  /** The store cannot do its work and retrying the same call will not help: its files cannot be
   * written (permission, read-only file system, disk full) or are damaged. The message says what
   * to fix; an embedded store reopens by itself once it can write again. */
  STORE_FAILED: { retryable: false },
  /** The network or server is unreachable; the operation may succeed later. */
  NETWORK: { retryable: true },
  /** Browser storage quota exhausted: the app must free space or tell the user. */
  QUOTA_EXCEEDED: { retryable: false },
  /** A lease was lost: the delivery was rescued and given to another worker. */
  LEASE_LOST: { retryable: false },
  /** Options are invalid or do not allow the operation (a bad schema name; `ctx.tx` or
   * `tx.query` with `dispatch: 'inline'`, which has no store). Fix the configuration. */
  INVALID_OPTIONS: { retryable: false },
  /** A `volatile` or `latest` event is too large for the live channel between processes
   * (PostgreSQL NOTIFY carries at most 8000 bytes): make the payload smaller, or use the log. */
  LIVE_TOO_LARGE: { retryable: false },
  /** A bug or an unexpected throw, wrapped once with its cause and stack. */
  INTERNAL: { retryable: false },
  /** A caller or connection is over a limit on work in flight or on a rate (commands in flight per
   * principal, emits or commands in flight per socket, presence updates and watches per socket):
   * nothing was done; retry later, after some of its calls have answered. */
  RATE_LIMITED: { retryable: true },
  /** A command handler refused the request on purpose (`ctx.reject(reason, message)`): the app's
   * own reason is in `details.reason`. Its writes and emits were rolled back. */
  REJECTED: { retryable: false },
  /** No handler for the command or query: none registered, or none in a process running the role
   * it is registered for (after the forwarding timeout). A process with the role may come up. */
  NO_HANDLER: { retryable: true },
} as const satisfies Record<string, { retryable: boolean }>;

export type FeteErrorCode = keyof typeof FeteErrorCode;

export interface FeteErrorOptions {
  cause?: unknown;
  /** Extra structured facts (the offending subject, limit, topic name...). */
  details?: Record<string, unknown>;
}

export class FeteError extends Error {
  override readonly name: string = 'FeteError';
  readonly code: FeteErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: FeteErrorCode, message: string, options: FeteErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }

  get retryable(): boolean {
    return FeteErrorCode[this.code].retryable;
  }

  /** A plain object safe to send over the wire (no stack, no cause). */
  toJSON(): { code: FeteErrorCode; message: string; retryable: boolean } {
    return { code: this.code, message: this.message, retryable: this.retryable };
  }

  /** Wraps any thrown value once: a FeteError passes through, anything else becomes `code` with
   * the original kept as `cause` (its stack included). The message is `describeThrown` of the
   * value (an Error's message; `thrown undefined`, `thrown object: {...}` otherwise), so this never
   * throws, whatever was thrown. A hostile value (one whose reading threw: a throwing Proxy, a
   * throwing `stack` getter) is not kept as `cause`, since printing the error later would throw:
   * the cause is then a plain Error with its description (see keepableCause). */
  static from(err: unknown, code: FeteErrorCode = 'INTERNAL'): FeteError {
    if (isFeteError(err)) return err;
    const { text: message, hostile } = inspectThrown(err, { stack: false, name: false });
    return new FeteError(code, message, { cause: hostile ? keepableCause(err) : err });
  }
}

/** True for a FeteError (with this code, if given). Never throws, even for a Proxy whose traps do. */
export function isFeteError(err: unknown, code?: FeteErrorCode): err is FeteError {
  try {
    return err instanceof FeteError && (code === undefined || err.code === code);
  } catch {
    return false;
  }
}

export class InvalidSubjectError extends FeteError {
  override readonly name = 'InvalidSubjectError';
  constructor(message: string, options: FeteErrorOptions = {}) {
    super('INVALID_SUBJECT', message, options);
  }
}

export class InvalidPatternError extends FeteError {
  override readonly name = 'InvalidPatternError';
  constructor(message: string, options: FeteErrorOptions = {}) {
    super('INVALID_PATTERN', message, options);
  }
}
