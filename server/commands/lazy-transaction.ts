// A command's store transaction, opened only when the handler first uses `ctx.tx` (or at the end,
// to record its emits and result): a handler awaiting something slow before that (a payment API)
// holds no store connection while it waits. `fete.transaction` takes a callback, so the open
// transaction waits inside it for `commit` (which runs the last statements there) or `rollback`.
import { FeteError, type TopicCatalog } from '../../shared/index.js';
import type { FeteTransaction } from '../types.js';
import type { AppendAdmitted, AtCommit, RunHost } from './run-request.js';

export interface OpenTx {
  tx: FeteTransaction<TopicCatalog>;
  appendAdmitted: AppendAdmitted;
  atCommit: AtCommit | undefined;
}

type End = { commit: (t: OpenTx) => Promise<void> } | { rollback: unknown };

export class LazyTransaction {
  readonly #host: Pick<RunHost, 'transaction'>;
  #opened: Promise<OpenTx> | undefined;
  #result: Promise<void> | undefined;
  #end!: (e: End) => void;
  #ended = false;

  constructor(host: Pick<RunHost, 'transaction'>) {
    this.#host = host;
  }

  /** The open transaction, opening it on first use. CLOSED once it was committed or rolled back
   * (a handler still running after its deadline, or after it returned). */
  open(): Promise<OpenTx> {
    if (this.#ended) return Promise.reject(new FeteError('CLOSED', "the command's transaction has ended: ctx.tx is usable only while the handler runs"));
    this.#opened ??= new Promise<OpenTx>((resolve, reject) => {
      const ending = new Promise<End>((r) => (this.#end = r));
      this.#result = this.#host.transaction(async (tx, appendAdmitted, atCommit) => {
        const t = { tx, appendAdmitted, atCommit };
        resolve(t);
        const end = await ending;
        if ('rollback' in end) throw end.rollback;
        await end.commit(t);
      });
      this.#result.catch(reject); // failed to open: the handler's ctx.tx call fails with it
    });
    return this.#opened;
  }

  /** Runs `last` in the transaction (opening it if the handler never did) and commits. Rejects
   * with whatever failed, the transaction then rolled back. */
  async commit(last: (t: OpenTx) => Promise<void>): Promise<void> {
    if (this.#ended) throw new FeteError('CLOSED', "the command's transaction has ended");
    if (!this.#opened) {
      this.#ended = true;
      await this.#host.transaction((tx, appendAdmitted, atCommit) => last({ tx, appendAdmitted, atCommit }));
      return;
    }
    this.#ended = true;
    await this.#opened;
    this.#end({ commit: last });
    await this.#result;
  }

  /** Rolls the transaction back if it was opened; never rejects. */
  async rollback(reason: unknown): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    if (!this.#opened) return;
    await this.#opened.catch(() => undefined);
    this.#end?.({ rollback: reason });
    await this.#result?.catch(() => undefined);
  }
}
