// fete.log: what the realtime fanout and HTTP layers build on (internal, not the stable API):
// reads of the log in seq order, the head seq, hooks called after appends (in any process, and with
// the events themselves after this process's commits), and appends of envelopes built elsewhere
// (browser emits), re-validated here.
import { type Envelope, FeteError } from '../shared/index.js';
import type { MemoryLog } from './memory-log.js';
import type { LogReader } from './store/log-reader.js';
import { headSeq } from './store/event-queries.js';
import type { Notifier } from './store/notifier.js';
import type { Store } from './store/open-store.js';
import { patternToRegex } from './store/pattern-regex.js';
import type { ReplayPlan } from './store/replay-plan.js';
import type { AppendOutcome, EmitResult, FeteLog } from './types.js';

export interface FeteLogDeps {
  /** Inline dispatch: the in-memory log. Otherwise the store, its reader and notifier. */
  memory: MemoryLog | undefined;
  store: Store | undefined;
  reader: LogReader | undefined;
  /** How a pattern read uses the indexes (replay-plan.ts); without it a pattern read scans. */
  plan?: (pattern: string) => ReplayPlan;
  notifier: Notifier | undefined;
  /** Hooks called by in-memory appends (the store path is told through NOTIFY). */
  appendHooks: Set<(head: number | undefined) => void>;
  /** Per-topic prune watermarks past `after` (nothing in memory: the in-memory log has no retention). */
  pruned(after: number): Promise<Array<{ topic: string; through: number }>>;
  /** Hooks called after every local append commits, with the appended events. */
  commitHooks: Set<(events: readonly Envelope[]) => void>;
  assertOpen(): void;
  /** Re-validates an envelope from outside (topic, payload, subject, server-side context). */
  rebuild(envelope: Envelope): Promise<Envelope>;
  /** Appends validated envelopes and runs what follows a commit. */
  append(envelopes: Envelope[]): Promise<EmitResult[]>;
}

export function createFeteLog(d: FeteLogDeps): FeteLog {
  return {
    async read(after, options = {}) {
      const limit = options.limit ?? 500;
      if (d.memory) return d.memory.read(after, options.pattern, limit);
      const subjectRegex = options.pattern === undefined ? undefined : patternToRegex(options.pattern);
      return d.reader!.read(after, limit, subjectRegex, options.pattern === undefined ? undefined : d.plan?.(options.pattern));
    },

    async head() {
      return d.memory ? d.memory.head : headSeq(d.store!.driver, d.store!.tables);
    },

    onAppend(fn) {
      d.appendHooks.add(fn);
      let unsubscribe: (() => void) | undefined;
      let gone = false;
      if (d.notifier)
        void d.notifier
          .subscribe((w) => {
            // Appends carry the head; a reconnect (listenerIds undefined) means "read again".
            if (w.headSeq !== undefined || w.listenerIds === undefined) fn(w.headSeq);
          })
          .then((u) => (gone ? u() : (unsubscribe = u)));
      return () => {
        gone = true;
        d.appendHooks.delete(fn);
        unsubscribe?.();
      };
    },

    pruned(after) {
      return d.pruned(after);
    },

    onCommit(fn) {
      d.commitHooks.add(fn);
      return () => void d.commitHooks.delete(fn);
    },

    async append(incoming) {
      d.assertOpen();
      const outcomes: AppendOutcome[] = new Array(incoming.length);
      const valid: Envelope[] = [];
      const slots: number[] = [];
      for (let i = 0; i < incoming.length; i++) {
        try {
          valid.push(await d.rebuild(incoming[i]!));
          slots.push(i);
        } catch (err) {
          outcomes[i] = { ok: false, id: String(incoming[i]?.id), error: FeteError.from(err) };
        }
      }
      if (valid.length > 0) {
        const results = await d.append(valid);
        results.forEach((r, k) => (outcomes[slots[k]!] = { ok: true, ...r }));
      }
      return outcomes;
    },
  };
}
