// PGlite has one connection: code that holds its transaction and then uses the same driver outside
// that transaction would wait for itself forever. The scope marks such code so the driver throws
// instead (both the worker driver and the driver on an app-provided instance check it).
import { AsyncLocalStorage } from 'node:async_hooks';
import { FeteError } from '../../shared/index.js';
import type { Driver } from './driver.js';

/**
 * Set around code that may hold a PGlite transaction (a listener attempt's `ctx.tx`,
 * `fete.transaction`'s function). While it holds one, any other use of the same driver from that
 * code would wait for the transaction it is itself holding, forever; the driver throws instead.
 */
export const pgliteTxScope = new AsyncLocalStorage<{ driver: Driver; holding(): boolean }>();

export function assertNotHolding(driver: Driver): void {
  const scope = pgliteTxScope.getStore();
  if (scope?.driver === driver && scope.holding())
    throw new FeteError(
      'INVALID_OPTIONS',
      'this code holds a PGlite transaction (ctx.tx / ctx.emit, or fete.transaction) and used the store outside it; ' +
        'PGlite has one connection, so that would wait for itself. Use ctx.tx / ctx.emit (tx.query / tx.emit) instead.',
    );
}
