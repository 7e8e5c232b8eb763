// One attempt of a handler, the same for durable and inline dispatch: the event's context is
// restored around the handler, a timer aborts `ctx.signal` after `timeoutMs`, and a throw, a
// rejection or an abort (timeout, lost lease, stop) all end the attempt as a failure.
import type { Envelope, TopicCatalog } from '../../shared/index.js';
import { FeteError } from '../../shared/index.js';
import type { Contexts } from '../context/context-registry.js';
import type { AnyHandler } from '../registry.js';
import type { ListenerContext } from '../types.js';

/** Resolves when the handler succeeded; rejects with its error or the abort reason. */
export function runAttempt(
  handler: AnyHandler,
  ctx: ListenerContext<TopicCatalog, Envelope>,
  contexts: Contexts,
  controller: AbortController,
  timeoutMs: number,
): Promise<void> {
  const signal = controller.signal;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => controller.abort(new FeteError('TIMEOUT', `attempt ${ctx.attempt} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const settle = (fn: () => void) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      fn();
    };
    let result: unknown;
    try {
      result = contexts.restore(ctx.envelope, () => handler(ctx.envelope.payload, ctx));
    } catch (err) {
      settle(() => reject(err));
      return;
    }
    Promise.resolve(result).then(
      () => settle(resolve),
      (err: unknown) => settle(() => reject(err)),
    );
  });
}

/** The text kept as a delivery's `last_error`: the stack when there is one, bounded. */
export function errorText(err: unknown): string {
  const text = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
  return text.length > 4000 ? `${text.slice(0, 4000)}…` : text;
}
