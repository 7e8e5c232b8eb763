// NATS for tests: the URL comes from FETE_TEST_NATS_URL (`.ci/run` starts NATS and exports it).
// Outside CI a missing or unreachable server skips the bus suites with a printed reason; in CI
// (CI=true) it fails, as the PostgreSQL suites do. `PrivateNats` runs a nats-server of the test's
// own on a free port, to stop and restart it mid-stream without disturbing other tests; `NatsProxy`
// stands between one node and a NATS, to cut that node off (or make NATS silent for it) alone.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type Server, type Socket, createServer, connect as tcpConnect } from 'node:net';

export interface NatsAvailability {
  url: string | undefined;
  skipReason: string | undefined;
}

function reachable(url: string, timeoutMs = 3000): Promise<boolean> {
  const u = new URL(url.replace(/^nats:/, 'http:'));
  return new Promise((resolve) => {
    const s = tcpConnect({ host: u.hostname, port: Number(u.port || 4222) });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('data', (d) => done(d.toString().startsWith('INFO')));
    s.once('error', () => done(false));
  });
}

/** Decides whether the NATS suites run. Throws in CI when NATS is missing or unreachable. */
export async function natsAvailability(): Promise<NatsAvailability> {
  const url = process.env.FETE_TEST_NATS_URL;
  const ci = process.env.CI === 'true';
  if (!url) {
    if (ci) throw new Error('FETE_TEST_NATS_URL is not set, and CI=true: the NATS bus suites must run in CI');
    return { url: undefined, skipReason: 'FETE_TEST_NATS_URL is not set' };
  }
  if (await reachable(url)) return { url, skipReason: undefined };
  if (ci) throw new Error(`NATS at FETE_TEST_NATS_URL (${url}) is unreachable, and CI=true`);
  return { url: undefined, skipReason: `NATS at FETE_TEST_NATS_URL (${url}) is unreachable` };
}

export const NATS_SERVER = process.env.FETE_NATS_SERVER ?? '/usr/sbin/nats-server';

/** Whether a private nats-server can be started (the binary is there). */
export function canRunPrivateNats(): boolean {
  return existsSync(NATS_SERVER);
}

/** Why the suites that run a private nats-server skip (undefined: they run). Throws under CI=true
 * when NATS or the nats-server binary is missing: those suites must fail there, never skip. */
export async function privateNatsSkipReason(): Promise<string | undefined> {
  const avail = await natsAvailability();
  if (avail.skipReason) return avail.skipReason;
  if (canRunPrivateNats()) return undefined;
  if (process.env.CI === 'true') throw new Error(`nats-server is not installed at ${NATS_SERVER} (FETE_NATS_SERVER), and CI=true`);
  return `nats-server is not installed at ${NATS_SERVER} (set FETE_NATS_SERVER)`;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A nats-server of this test on its own port (no JetStream: the bus does not use it). */
export class PrivateNats {
  #proc: ChildProcess | undefined;
  private constructor(readonly port: number) {}

  static async start(): Promise<PrivateNats> {
    const n = await PrivateNats.reserve();
    await n.start();
    return n;
  }

  /** A free port for a nats-server not started yet (a NATS that is down until `start()`). */
  static async reserve(): Promise<PrivateNats> {
    return new PrivateNats(await freePort());
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.#proc) return;
    this.#proc = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(this.port)], { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (!(await reachable(this.url, 500))) {
      if (Date.now() > deadline) throw new Error(`nats-server on port ${this.port} did not start`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops the server (SIGKILL: connections drop as in a crash). */
  async stop(): Promise<void> {
    const p = this.#proc;
    this.#proc = undefined;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }
}

/** A TCP port in front of a NATS, for one node: `closed` refuses connections (a NATS that is down),
 * `open` relays them to `target`, `silent` accepts them and never answers (a host that does not
 * answer: the stand-in for a blackholed address, whose SYN is dropped). `cut()` drops the relayed
 * connections as a crash would, and refuses new ones; `freeze()` stops relaying without closing
 * anything, as a partition does (only pings tell). */
export class NatsProxy {
  readonly #sockets = new Set<Socket>();
  readonly #pairs = new Set<[Socket, Socket]>();
  readonly #frozen = new Set<Socket>();
  #server: Server | undefined;
  #mode: 'open' | 'silent' = 'open';
  #accepted = 0;
  private constructor(
    readonly port: number,
    readonly target: PrivateNats | undefined,
  ) {}

  /** A proxy to `target` (none: `silent` only), refusing connections until `open()` or `silence()`. */
  static async create(target?: PrivateNats): Promise<NatsProxy> {
    return new NatsProxy(await freePort(), target);
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Connections open through the proxy now (from the node's side and to the target), the
   * frozen ones left out (their far end may be long gone: a partition hides that). */
  get connections(): number {
    let n = 0;
    for (const s of this.#sockets) if (!this.#frozen.has(s)) n++;
    return n;
  }

  /** Connections accepted from the node's side so far. */
  get accepted(): number {
    return this.#accepted;
  }

  /** Relays new connections to the target. */
  open(): Promise<void> {
    if (!this.target) throw new Error('a NatsProxy without a target can only be silent');
    this.#mode = 'open';
    return this.#listen();
  }

  /** Accepts new connections and never answers them. */
  silence(): Promise<void> {
    this.#mode = 'silent';
    return this.#listen();
  }

  /** Relays nothing more on the open connections (they stay open) and answers no new one. */
  async freeze(): Promise<void> {
    this.#mode = 'silent';
    for (const [down, up] of this.#pairs) {
      down.unpipe(up);
      up.unpipe(down);
      down.pause();
      up.pause();
      this.#frozen.add(down).add(up);
    }
    this.#pairs.clear();
  }

  /** Drops every connection and refuses new ones. */
  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.#sockets) s.destroy();
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  #listen(): Promise<void> {
    if (this.#server) return Promise.resolve();
    const server = createServer((down) => {
      this.#accepted++;
      this.#track(down);
      if (this.#mode === 'silent' || !this.target) return;
      const up = tcpConnect({ host: '127.0.0.1', port: this.target.port });
      this.#track(up);
      const pair: [Socket, Socket] = [down, up];
      this.#pairs.add(pair);
      // One side gone: the other goes too.
      down.on('close', () => {
        this.#pairs.delete(pair);
        up.destroy();
      });
      up.on('close', () => down.destroy());
      down.pipe(up).pipe(down);
    });
    this.#server = server;
    return new Promise<void>((r) => server.listen(this.port, '127.0.0.1', r));
  }

  #track(s: Socket): void {
    this.#sockets.add(s);
    s.on('close', () => {
      this.#sockets.delete(s);
      this.#frozen.delete(s);
    });
    s.on('error', () => undefined);
  }
}
