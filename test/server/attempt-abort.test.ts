// The per-attempt pieces of dispatch that avoid work on the hot path: the abort signal made only
// when read, one deadline timer per listener instead of one per attempt, and runAttempt settling
// a synchronous handler before it returns.
import { describe, expect, it } from 'vitest';
import { Contexts } from '../../server/context/context-registry.js';
import { AttemptAbort, timeoutError } from '../../server/dispatch/attempt-abort.js';
import { DeadlineTimer } from '../../server/dispatch/deadline-timer.js';
import { runAttempt } from '../../server/dispatch/run-attempt.js';
import type { AnyHandler } from '../../server/registry.js';
import { type Envelope, FeteError, isFeteError, type TopicCatalog } from '../../shared/index.js';
import type { ListenerContext } from '../../server/types.js';

function ctxFor(abort: AttemptAbort): ListenerContext<TopicCatalog, Envelope> {
  const envelope: Envelope = { id: 'e', topic: 't', subject: 't', time: new Date(0).toISOString(), headers: {}, payload: 1, context: {} };
  return {
    envelope,
    attempt: 1,
    get signal() {
      return abort.signal;
    },
    context: {},
    emit: (() => Promise.reject(new Error('unused'))) as never,
    tx: { query: () => Promise.reject(new Error('unused')) },
  };
}

function run(handler: AnyHandler, abort = new AttemptAbort()) {
  const outcome: { settled: Array<[boolean, unknown]> } = { settled: [] };
  runAttempt(handler, ctxFor(abort), new Contexts(), abort, { settled: (failed, err) => void outcome.settled.push([failed, err]) });
  return { abort, outcome };
}

describe('AttemptAbort', () => {
  it('a signal first read after the abort is already aborted, with the reason', () => {
    const abort = new AttemptAbort();
    abort.abort(timeoutError(2, 50));
    expect(abort.signal.aborted).toBe(true);
    expect(isFeteError(abort.signal.reason, 'TIMEOUT')).toBe(true);
    expect((abort.signal.reason as FeteError).message).toBe('attempt 2 timed out after 50 ms');
  });

  it('fires the signal read earlier, tells the runner once, and ignores a second abort', () => {
    const abort = new AttemptAbort();
    const seen: string[] = [];
    abort.signal.addEventListener('abort', () => seen.push(`signal ${(abort.signal.reason as FeteError).code}`));
    abort.onAbort = (reason) => seen.push(`runner ${(reason as FeteError).code}`);
    abort.abort(new FeteError('LEASE_LOST', 'gone'));
    abort.abort(new FeteError('CLOSED', 'later'));
    expect(seen).toEqual(['signal LEASE_LOST', 'runner LEASE_LOST']);
    expect((abort.reason as FeteError).code).toBe('LEASE_LOST');
  });
});

describe('DeadlineTimer', () => {
  it('one timer serves every deadline: it fires for the earliest, then re-arms for the next', async () => {
    const t0 = performance.now();
    const deadlines = [t0 + 20, t0 + 60];
    const expired: number[] = [];
    const timer = new DeadlineTimer((now) => {
      let next = Infinity;
      for (const d of deadlines) {
        if (d <= now && !expired.includes(d)) expired.push(d);
        else if (d > now && d < next) next = d;
      }
      return next;
    });
    timer.watch(deadlines[1]!);
    timer.watch(deadlines[0]!);
    await new Promise((r) => setTimeout(r, 40));
    expect(expired).toEqual([deadlines[0]]);
    await new Promise((r) => setTimeout(r, 50));
    expect(expired).toEqual(deadlines);
  });

  it('idle() cancels the pending timer', async () => {
    let fired = 0;
    const timer = new DeadlineTimer(() => (fired++, Infinity));
    timer.watch(performance.now() + 10);
    timer.idle();
    await new Promise((r) => setTimeout(r, 30));
    expect(fired).toBe(0);
  });
});

describe('runAttempt', () => {
  it('a synchronous handler is settled before runAttempt returns; a throw is a failure', () => {
    expect(run(() => undefined).outcome.settled).toEqual([[false, undefined]]);
    const err = new Error('boom');
    expect(
      run(() => {
        throw err;
      }).outcome.settled,
    ).toEqual([[true, err]]);
  });

  it('an abort settles a pending handler as failed with its reason, once; a later rejection is handled', async () => {
    let reject: (e: Error) => void = () => undefined;
    const { abort, outcome } = run(() => new Promise((_resolve, rej) => (reject = rej)));
    expect(outcome.settled).toEqual([]);
    const reason = new FeteError('TIMEOUT', 'too slow');
    abort.abort(reason);
    reject(new Error('late'));
    await new Promise((r) => setTimeout(r, 5));
    expect(outcome.settled).toEqual([[true, reason]]);
  });

  it('an attempt aborted before it starts never calls the handler', () => {
    const abort = new AttemptAbort();
    abort.abort(new FeteError('CLOSED', 'stopping'));
    let called = false;
    const { outcome } = run(() => void (called = true), abort);
    expect(called).toBe(false);
    expect(outcome.settled[0]![0]).toBe(true);
  });
});
