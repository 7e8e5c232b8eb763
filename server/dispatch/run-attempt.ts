// One attempt of a handler, the same for durable and inline dispatch: the event's context is
// restored around the handler, and a throw, a rejection or an abort (timeout, lost lease, stop)
// all end the attempt as a failure. The outcome goes to a sink, not a promise: a handler that
// returns without a promise is settled synchronously, so a drain of such handlers creates no
// promise per attempt (each promise costs its allocation plus the AsyncLocalStorage hooks).
import { describeThrown } from '../../shared/describe-thrown.js';
import type { Envelope, TopicCatalog } from '../../shared/index.js';
import type { Contexts } from '../context/context-registry.js';
import type { AnyHandler } from '../registry.js';
import type { ListenerContext } from '../types.js';
import type { AttemptAbort } from './attempt-abort.js';

export interface AttemptSink {
  /** Called exactly once: `failed` with the thrown error, rejection or abort reason, or succeeded. */
  settled(failed: boolean, error: unknown): void;
}

/** The `then` of a handler's result when it is a thenable, else undefined. Reading it runs user
 * code (a getter, a Proxy trap) and may throw: the caller treats that as the handler failing, as
 * `await` would. */
function thenOf(value: unknown): unknown {
  return value !== null && (typeof value === 'object' || typeof value === 'function') ? (value as PromiseLike<unknown>).then : undefined;
}

/** Runs `handler` for `ctx` and reports to `sink`: at once for a synchronous handler, else when
 * its promise settles or `abort` fires, whichever comes first. */
export function runAttempt(
  handler: AnyHandler,
  ctx: ListenerContext<TopicCatalog, Envelope>,
  contexts: Contexts,
  abort: AttemptAbort,
  sink: AttemptSink,
): void {
  if (abort.aborted) return sink.settled(true, abort.reason);
  let result: unknown;
  try {
    result = contexts.restore(ctx.envelope, () => handler(ctx.envelope.payload, ctx));
  } catch (err) {
    return sink.settled(true, abort.aborted ? abort.reason : err);
  }
  let then: unknown;
  try {
    then = thenOf(result);
  } catch (err) {
    return sink.settled(true, abort.aborted ? abort.reason : err);
  }
  // An abort that came while the handler ran synchronously wins, as it does over a promise.
  if (typeof then !== 'function') return abort.aborted ? sink.settled(true, abort.reason) : sink.settled(false, undefined);
  let open = true;
  const end = (failed: boolean, err: unknown) => {
    if (!open) return;
    open = false;
    abort.onAbort = undefined;
    sink.settled(failed, err);
  };
  // Promise.resolve returns a native promise as is. Both outcomes are handled even after an
  // abort settled the attempt, so a late rejection is never an unhandled one. A hostile result
  // (a promise whose `constructor` or own `then` throws) can make either call throw: that is the
  // handler failing. One whose `then` never calls back is ended by the timeout like any other.
  try {
    Promise.resolve(result).then(
      () => end(false, undefined),
      (err: unknown) => end(true, err),
    );
  } catch (err) {
    end(true, err);
    return;
  }
  if (!open) return;
  if (abort.aborted) {
    open = false;
    return sink.settled(true, abort.reason);
  }
  abort.onAbort = (reason) => {
    if (!open) return;
    open = false;
    sink.settled(true, reason);
  };
}

/** The text kept as a delivery's `last_error`: the stack when there is one, bounded, and safe
 * for any thrown value (see describeThrown). */
export function errorText(err: unknown): string {
  return describeThrown(err);
}
