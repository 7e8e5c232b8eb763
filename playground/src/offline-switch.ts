// The playground's "offline" switch: a transport that wraps fete's Socket.IO transport and can be
// cut and restored, as a train tunnel would. While cut, sends fail with NETWORK like a real drop,
// so the outbox keeps emits and queued commands in IndexedDB and retries; restoring opens a fresh connection, and
// subscriptions resume from their cursors. The switch's position survives a reload.
import { FeteError, socketTransport, type Transport, type TransportFactory, type TransportHandlers } from 'fete/client';

const KEY = 'fete-playground:offline';

export interface OfflineSwitch {
  readonly offline: boolean;
  /** The transport factory for `createClient({ transport })`. */
  readonly transport: TransportFactory;
  set(offline: boolean): void;
}

export function createOfflineSwitch(inner: TransportFactory = socketTransport()): OfflineSwitch {
  let offline = localStorage.getItem(KEY) === '1';
  const live = new Set<SwitchableTransport>();
  return {
    get offline() {
      return offline;
    },
    transport: (options) => {
      const t = new SwitchableTransport(() => inner(options), offline, () => live.delete(t));
      live.add(t);
      return t;
    },
    set(next) {
      if (next === offline) return;
      offline = next;
      localStorage.setItem(KEY, next ? '1' : '0');
      for (const t of live) t.setOffline(next);
    },
  };
}

const unreachable = () => new FeteError('NETWORK', 'offline (the playground switch is off)');

class SwitchableTransport implements Transport {
  #current: Transport | undefined;
  #handlers: TransportHandlers | undefined;
  #closed = false;

  constructor(
    private readonly make: () => Transport,
    private offline: boolean,
    private readonly onClose: () => void,
  ) {}

  get connected(): boolean {
    return this.#current?.connected ?? false;
  }

  open(handlers: TransportHandlers): void {
    this.#handlers = handlers;
    if (!this.offline) this.#connect();
    else queueMicrotask(() => handlers.connectError(unreachable()));
  }

  setOffline(offline: boolean): void {
    if (this.#closed || offline === this.offline) return;
    this.offline = offline;
    if (offline) {
      // Closed while still current, so its 'disconnect' reaches the client.
      this.#current?.close();
      this.#current = undefined;
    } else {
      this.#connect();
    }
  }

  #connect(): void {
    const inner = this.make();
    const h = this.#handlers!;
    // A closed connection's late reports (a connect_error in flight) are not the client's concern.
    const ifCurrent =
      <A extends unknown[]>(f: (...args: A) => void) =>
      (...args: A) => {
        if (this.#current === inner) f(...args);
      };
    this.#current = inner;
    // Every handler the client gives is passed on (ev, gap, clr, pev... whatever the client
    // knows): a wrapper that lists them would silently drop the ones added after it was written.
    const passed = Object.fromEntries(
      Object.entries(h).map(([name, f]) => [name, ifCurrent((...args: unknown[]) => (f as (...a: unknown[]) => void).apply(h, args))]),
    ) as unknown as TransportHandlers;
    inner.open(passed);
  }

  sub: Transport['sub'] = (packet, timeoutMs) => this.#current?.sub(packet, timeoutMs) ?? Promise.reject(unreachable());
  emit: Transport['emit'] = (packet, timeoutMs) => this.#current?.emit(packet, timeoutMs) ?? Promise.reject(unreachable());
  unsub: Transport['unsub'] = (packet) => this.#current?.unsub(packet);
  cmd: NonNullable<Transport['cmd']> = (packet, timeoutMs) => this.#current?.cmd?.(packet, timeoutMs) ?? Promise.reject(unreachable());
  cmdResult: NonNullable<Transport['cmdResult']> = (packet, timeoutMs) => this.#current?.cmdResult?.(packet, timeoutMs) ?? Promise.reject(unreachable());
  pwatch: NonNullable<Transport['pwatch']> = (packet, timeoutMs) => this.#current?.pwatch?.(packet, timeoutMs) ?? Promise.reject(unreachable());
  punwatch: NonNullable<Transport['punwatch']> = (packet) => this.#current?.punwatch?.(packet);
  pset: NonNullable<Transport['pset']> = (packet, timeoutMs) => this.#current?.pset?.(packet, timeoutMs) ?? Promise.reject(unreachable());

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#current?.close();
    this.#current = undefined;
    this.onClose();
  }
}
