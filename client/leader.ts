// Leader election between the tabs of an origin: the tab holding the Web Lock drains the shared
// outbox. The lock is held for the client's life and released by `close()` or by the browser when
// the tab goes away; the next tab waiting in `locks.request` then gets it. Without Web Locks (Node,
// old browsers) or with an unshared store, the client is its own leader.

export interface Leadership {
  readonly isLeader: boolean;
  /** Releases the lock, or stops waiting for it. Idempotent. */
  close(): void;
}

/** The part of the Web Locks API used here (`navigator.locks`). */
export type LockManagerLike = Pick<LockManager, 'request'>;

const alwaysLeader: Leadership = { isLeader: true, close() {} };

/**
 * Requests the exclusive lock `name`; `onChange(true)` runs when it is granted. `onError` hears a
 * failed request (other than the abort of `close()`); the client then leads anyway, since draining
 * twice only costs duplicates the server drops, while never draining would lose the outbox.
 */
export function electLeader(
  locks: LockManagerLike | undefined,
  name: string,
  onChange: (leader: boolean) => void,
  onError: (err: unknown) => void,
): Leadership {
  if (locks === undefined) return alwaysLeader;
  const abort = new AbortController();
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let leader = false;
  let closed = false;
  const become = (value: boolean) => {
    if (leader === value) return;
    leader = value;
    onChange(value);
  };
  locks
    .request(name, { mode: 'exclusive', signal: abort.signal }, async () => {
      if (closed) return;
      become(true);
      await released;
    })
    .catch((err: unknown) => {
      if (closed) return;
      onError(err);
      become(true);
    });
  return {
    get isLeader() {
      return leader;
    },
    close() {
      if (closed) return;
      closed = true;
      abort.abort();
      release();
      leader = false;
    },
  };
}
