// The client's status: connected, leader, pending and the last error, as an immutable snapshot
// replaced on every change. Listeners hear about changes once per microtask, so a burst of emits
// (pending 1, 2, 3...) costs one notification with the final value.
import type { FeteError } from '../shared/index.js';

export interface ClientStatus {
  /** The transport is connected to the server. */
  readonly connected: boolean;
  /** This client drains the outbox (it holds the tabs' lock, or has no other tab to share with). */
  readonly leader: boolean;
  /** Entries in the outbox not yet acknowledged by the server (all tabs, for a shared store). */
  readonly pending: number;
  /** The latest error the app did not get from a call: storage, network, a refused subscription, a
   * malformed event, a rejected emit, a throwing handler. */
  readonly lastError: FeteError | undefined;
  /** Set while the server refuses this client's handshake (UNAUTHORIZED, FORBIDDEN: a wrong or
   * expired token), cleared by the next successful connection. The client keeps trying, slowly,
   * calling `auth` each time; the `error` event fires once per refusal streak. */
  readonly refused: FeteError | undefined;
}

export class StatusHolder {
  #current: ClientStatus = Object.freeze({ connected: false, leader: false, pending: 0, lastError: undefined, refused: undefined });
  #scheduled = false;
  readonly #notify: (status: ClientStatus) => void;

  constructor(notify: (status: ClientStatus) => void) {
    this.#notify = notify;
  }

  get current(): ClientStatus {
    return this.#current;
  }

  update(patch: Partial<ClientStatus>): void {
    const cur = this.#current;
    let changed = false;
    for (const key of Object.keys(patch) as (keyof ClientStatus)[]) if (patch[key] !== cur[key]) changed = true;
    if (!changed) return;
    this.#current = Object.freeze({ ...cur, ...patch });
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#notify(this.#current);
    });
  }
}
