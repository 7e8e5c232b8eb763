// Waiting for a condition in tests that involve workers: polls until it holds. The timeout only
// bounds a broken test; no assertion depends on how long anything took.

export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  { timeoutMs = 20_000, intervalMs = 10, what = 'condition' }: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** `waitFor` with positional arguments and a 5 ms poll, as the socket suites call it:
 * `until(() => client.seqs('s').length === 3, 'three events')`. Default deadline 30 s. */
export function until<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what = 'condition', timeoutMs = 30_000): Promise<T> {
  return waitFor(check, { what, timeoutMs, intervalMs: 5 });
}

/** A promise with its resolver, for gating handlers. */
export function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((r) => (open = r));
  return { promise, open };
}
