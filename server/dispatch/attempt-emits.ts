// The transaction of one inline attempt's `ctx.emit` (and `ctx.tx` where there is a store): what
// it emits becomes visible, and runs listeners, only when the attempt succeeds. Two kinds:
// - memory (`dispatch: 'inline'`): the in-memory log's own transaction, as `fete.transaction`
//   uses it: appended at once (seq assigned, duplicates answered), forgotten on rollback, and
//   handed to listeners and log hooks only on commit.
// - store (non-durable listeners of a durable fete): a store transaction opened on first use,
//   committed or rolled back with the attempt.
import { checkHandlerSql } from '../store/handler-sql.js';
import type { Envelope } from '../../shared/index.js';
import type { MemoryLog } from '../log/memory-log.js';
import type { Driver, QueryResult, TxHandle } from '../store/driver.js';
import type { DeliveryPlan } from '../store/event-queries.js';
import { appendEvents } from '../store/event-queries.js';
import type { Tables } from '../store/tables.js';
import type { EmitOptions, LoggedResult, TxQuery } from '../types.js';
import type { AttemptEmits } from './inline-dispatcher.js';

export interface AttemptEmitDeps {
  build(topic: unknown, payload: unknown, options?: EmitOptions): Promise<Envelope>;
  /** Runs what follows a commit (listeners of the new events, log hooks). */
  afterCommit(envelopes: Envelope[], results: LoggedResult[], options: EmitOptions[]): void;
}

/** `dispatch: 'inline'`: over the in-memory log. */
export function memoryAttemptEmits(log: MemoryLog, d: AttemptEmitDeps): AttemptEmits {
  const envelopes: Envelope[] = [];
  const results: LoggedResult[] = [];
  const options: EmitOptions[] = [];
  return {
    async emit(topic, payload, o = {}) {
      const envelope = await d.build(topic, payload, o);
      const [r] = await log.append([envelope]);
      envelopes.push(envelope);
      results.push(r!);
      options.push(o);
      return r!;
    },
    async commit() {
      if (envelopes.length > 0) d.afterCommit(envelopes, results, options);
    },
    async rollback() {
      log.forget(envelopes.filter((_, i) => !results[i]!.duplicate));
    },
  };
}

export interface StoreAttemptEmits extends AttemptEmits {
  readonly tx: TxQuery;
  /** A transaction is open (PGlite: the process's one connection is held). */
  readonly holding: boolean;
}

/** Non-durable listeners of a durable fete: a lazily opened store transaction. */
export function storeAttemptEmits(
  driver: Driver,
  tables: Tables,
  d: AttemptEmitDeps & { plan(envelope: Envelope, options: EmitOptions): DeliveryPlan | undefined },
): StoreAttemptEmits {
  let open: Promise<TxHandle> | undefined;
  let ended = false;
  const envelopes: Envelope[] = [];
  const results: LoggedResult[] = [];
  const options: EmitOptions[] = [];
  const handle = () => (open ??= driver.begin());
  return {
    get holding() {
      return open !== undefined && !ended;
    },
    tx: {
      query: async <R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> => {
        checkHandlerSql(sql);
        return (await handle()).query<R>(sql, params);
      },
    },
    async emit(topic, payload, o = {}) {
      const envelope = await d.build(topic, payload, o);
      const [r] = await appendEvents(await handle(), tables, [envelope], undefined, undefined, [d.plan(envelope, o)]);
      envelopes.push(envelope);
      results.push(r!);
      options.push(o);
      return r!;
    },
    async commit() {
      ended = true;
      if (!open) return;
      await (await open).commit();
      if (envelopes.length > 0) d.afterCommit(envelopes, results, options);
    },
    async rollback() {
      ended = true;
      const tx = await open?.catch(() => undefined);
      if (tx && !tx.closed) await tx.rollback();
    },
  };
}
