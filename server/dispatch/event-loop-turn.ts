// Giving the event loop a turn during long runs of store work that never does real I/O.
//
// On PGlite every query resolves with no real I/O (WASM, synchronous files), so claim -> attempt
// -> complete -> claim chained on promises alone would hold the event loop until a whole backlog
// is drained: no timers (heartbeats, timeouts), no sockets, no HTTP meanwhile
// (test/reliability/pglite-event-loop.test.ts). Yielding before every attempt fixes that but
// costs latency (measured: a single emit-to-handler on PGlite went from 2.6 to 5.7 ms, the yield
// letting queued completions run first; with a 5 ms threshold still +1 ms, since one PGlite emit
// takes 2-5 ms here). So the dispatcher yields only when the loop has not turned for BUSY_MS: a
// watcher on setImmediate notes each turn; a caller finding the last turn older than that waits
// for the next one. Timers and sockets then wait at most about BUSY_MS during a drain.
const BUSY_MS = 20;

let lastTurn = performance.now();
let watching = false;

function watch(): void {
  if (watching) return;
  watching = true;
  setImmediate(() => {
    watching = false;
    lastTurn = performance.now();
  });
}

/** Undefined when the event loop turned recently (go on at once); else a promise of the next turn. */
export function turnIfBusy(): Promise<void> | undefined {
  watch();
  if (performance.now() - lastTurn < BUSY_MS) return undefined;
  return new Promise<void>((resolve) => setImmediate(resolve));
}
