// NATS as the live bus between web nodes (`createFete({ bus: { nats } })`). PostgreSQL stays the
// system of record; the bus only spares every web node its own tail of the log.
//
// Publishing (every process with the option, web or worker): after each commit of this process
// (the log's commit hook) every event goes out in its browser wire form (seq set, no context) on
// `<root>.ev.<tenant>.<subject>` (nats-subjects.ts), then one commit notice on `<root>.commits`:
// `{ p: publisher id, n: its counter (1, 2, ...), s: [[seq, subject, tenant], ...] }`, the subject null for
// events that never leave the server (topic not exposed: not published at all). NATS keeps one
// publisher connection's order towards each subscriber connection, so a node has every event of a
// commit that it asked for before it reads the commit's notice.
//
// Receiving (web nodes, one NatsTail per attached fanout; nats-tail.ts): the node subscribes to
// the union of its sockets' patterns, each for its socket's tenant (a node never receives events of
// a tenant none of its sockets belongs to), hands the events it gets to its tail like local commits, and
// reads each notice: a seq announced but not received was not asked for (a skip, which the tail
// checks against its subscriptions when it moves past it) or was lost (then the subscription that
// wants it makes the tail read the log from there). A counter jump, a disconnect or reconnect
// makes the tail read the log from its cursor. A seq no notice explains (an append in flight
// elsewhere, a rollback, a process without the bus) is read from the log once a short delay has
// passed with the gap still open, and a slow poll reads the log even when the bus is quiet.
// While NATS is down the tail also goes back to the store's NOTIFY.
//
// NATS down at start (the default, `bus.required` false; "down" includes a server that does not
// answer within `connectTimeoutMs`, default 2 s): the bus opens without a connection, the
// tails follow the store's NOTIFY and reads, the live channel publishes on its fallback
// (fallback-live-channel.ts), and a background loop tries NATS again (250 ms doubling to
// `retryMaxMs`, with jitter). Once connected, each tail subscribes to the notices and its
// interests, waits until NATS has them (flush), then leaves NOTIFY and reads the log from its
// cursor: events committed before that read come from the read, later ones from NATS, and
// follow()'s cursor drops whatever both bring (no gap, no duplicate). Later outages are the NATS
// client's to reconnect; a connection that closes for good (a finite `maxReconnectAttempts`)
// starts the loop again. The state is BusHealth's (bus-health.ts): `fete.stats().bus`, health, log.
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import createDebug from 'debug';
import { type Envelope, type TopicCatalog, isFeteError } from '../../shared/index.js';
import { encodeForBrowser } from '../fanout/browser-envelope.js';
import type { EventLog, LogView } from '../log/event-log.js';
import { Hooks } from '../log/hooks.js';
import type { LogEvents } from '../logger.js';
import { exposureOf } from '../security/exposure.js';
import { tenantOf } from '../security/tenant.js';
import type { LiveChannel } from './live-channel.js';
import { BusHealth } from './bus-health.js';
import type { BusStatus, EventBus, ResolvedBusOptions } from './event-bus.js';
import { type FallbackLiveChannel, createFallbackLiveChannel } from './fallback-live-channel.js';
import { type NatsModule, connectNats, loadNats, natsServers } from './nats-connect.js';
import { createNatsLiveChannel } from './nats-live-channel.js';
import { type BusSubjects, busRoot, busSubjects } from './nats-subjects.js';
import { NatsTail } from './nats-tail.js';

const debug = createDebug('fete:bus');
const encoder = new TextEncoder();

/** How long `close` waits for the last publishes to reach NATS. */
const DRAIN_MS = 2000;
/** Entries per commit notice: a larger commit sends several notices, numbered in order. */
const NOTICE_ENTRIES = 256;
/** The first wait between two attempts to reach NATS before it was ever reached; doubled up to
 * `retryMaxMs`. */
const RETRY_FIRST_MS = 250;

/** One commit notice (see the header). */
export interface CommitNotice {
  p: string;
  n: number;
  /** [seq, subject (null: not published), tenant] per event. */
  s: Array<[number, string | null, string]>;
}

export class NatsBus implements EventBus {
  readonly options: ResolvedBusOptions;
  /** The connection, once NATS was reached (kept through the client's own reconnects). */
  nc: NatsConnection | undefined;
  readonly subjects: BusSubjects;
  readonly publisherId = randomUUID();
  #counter = 0;
  readonly #mod: NatsModule;
  readonly #name: string;
  readonly #exposes: (topic: string) => boolean;
  readonly #lost = new Hooks<'disconnect' | 'reconnect'>();
  readonly #tails = new Set<NatsTail>();
  /** Live channels, with their NATS channel once connected. */
  readonly #channels = new Map<FallbackLiveChannel, LiveChannel | undefined>();
  readonly #unhook: () => void;
  readonly #counts = { published: 0, notices: 0, publishFailures: 0 };
  readonly #health: BusHealth;
  /** Wakes the connect loop's wait early (close). */
  #wake: (() => void) | undefined;
  #connecting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  private constructor(mod: NatsModule, options: ResolvedBusOptions, log: EventLog, catalog: TopicCatalog, logs: LogEvents) {
    this.#mod = mod;
    this.options = options;
    this.#name = `fete ${log.epoch}`;
    this.subjects = busSubjects(busRoot(options.prefix, log.epoch));
    this.#health = new BusHealth(logs, natsServers(options.nats));
    const exposure = exposureOf(catalog);
    this.#exposes = (t) => exposure.exposes(t);
    this.#unhook = log.onCommit((events) => this.publish(events));
  }

  /** Opens the bus and starts publishing this process's commits. Tries NATS once, for at most
   * `options.connectTimeoutMs` (a refused connection fails at once; a server that does not answer
   * at all, a blackholed address, takes that long): when it cannot be reached, throws FeteError
   * NETWORK with `options.required`, else returns a bus on the PostgreSQL fallback that keeps
   * trying in the background.
   * INVALID_OPTIONS without the package, or for options the NATS client refuses. */
  static async open(options: ResolvedBusOptions, log: EventLog, catalog: TopicCatalog, logs: LogEvents): Promise<NatsBus> {
    const mod = await loadNats();
    const bus = new NatsBus(mod, options, log, catalog, logs);
    try {
      bus.#attach(await connectNats(options.nats, bus.#name, mod, options.connectTimeoutMs));
    } catch (err) {
      if (options.required || isFeteError(err, 'INVALID_OPTIONS')) {
        await bus.close();
        throw err;
      }
      bus.#health.degraded(err, true);
      bus.#connecting = bus.#connectLoop();
    }
    return bus;
  }

  /** Tries NATS until it answers or the bus closes, waiting longer after each failure. */
  async #connectLoop(): Promise<void> {
    let wait = RETRY_FIRST_MS;
    while (!this.#closing) {
      // Full jitter over the upper half: nodes that lost NATS together do not come back in step.
      const ms = wait / 2 + Math.random() * (wait / 2);
      await new Promise<void>((resolve) => {
        // Unref'd: a node that never reached NATS does not stay alive for the retries alone.
        const timer = setTimeout(resolve, ms).unref();
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
      if (this.#closing) return;
      let nc: NatsConnection;
      try {
        nc = await connectNats(this.options.nats, this.#name, this.#mod, this.options.connectTimeoutMs);
      } catch (err) {
        this.#health.degraded(err);
        debug('NATS still unreachable (next try in about %d ms): %s', Math.min(wait * 2, this.options.retryMaxMs), (err as Error).message);
        wait = Math.min(wait * 2, this.options.retryMaxMs);
        continue;
      }
      if (this.#closing) {
        await nc.close().catch(() => undefined);
        return;
      }
      this.#attach(nc);
      return;
    }
  }

  /** NATS answered: tails and live channels move onto it. */
  #attach(nc: NatsConnection): void {
    this.nc = nc;
    debug('connected to NATS at %s', nc.getServer());
    void this.#watch(nc);
    for (const t of this.#tails) t.connect(nc);
    for (const c of this.#channels.keys()) this.#channelToNats(c);
    this.#health.connected();
  }

  #channelToNats(channel: FallbackLiveChannel): void {
    let nats = this.#channels.get(channel);
    const nc = this.nc!;
    if (!nats) this.#channels.set(channel, (nats = createNatsLiveChannel(nc, { root: this.subjects.root })));
    // Ready once NATS has the channel's subscriptions: the flush's PONG follows them.
    channel.toNats(nats, nc.flush());
  }

  /** Publishes committed events and their notices. Never throws: a failed publish shows up at the
   * receivers as a counter jump or a missing seq, and they read the log. Without a connection
   * nothing is sent: receivers find the events by their NOTIFY, their poll or a later notice. */
  publish(events: readonly Envelope[]): void {
    const nc = this.nc;
    if (this.#closing || !nc || events.length === 0) return;
    const max = nc.info?.max_payload ?? 1024 * 1024;
    try {
      for (let i = 0; i < events.length; i += NOTICE_ENTRIES) {
        const entries: CommitNotice['s'] = [];
        for (const e of events.slice(i, i + NOTICE_ENTRIES)) {
          const tenant = tenantOf(e);
          if (!this.#exposes(e.topic)) {
            entries.push([e.seq!, null, tenant]);
            continue;
          }
          const data = encoder.encode(encodeForBrowser(e));
          // Too large for NATS: announced, not sent, so a node that wants it reads it from the log.
          if (data.length < max) {
            nc.publish(this.subjects.event(tenant, e.subject), data);
            this.#counts.published++;
          }
          entries.push([e.seq!, e.subject, tenant]);
        }
        const notice: CommitNotice = { p: this.publisherId, n: ++this.#counter, s: entries };
        nc.publish(this.subjects.commits, JSON.stringify(notice));
        this.#counts.notices++;
      }
    } catch (err) {
      this.#counts.publishFailures++;
      debug('publishing %d events failed: %s', events.length, (err as Error).message);
    }
  }

  liveChannel(fallback: LiveChannel): LiveChannel {
    const channel = createFallbackLiveChannel(fallback);
    this.#channels.set(channel, undefined);
    if (this.nc && this.connected) this.#channelToNats(channel);
    return channel;
  }

  tail(log: LogView): NatsTail {
    const tail = new NatsTail(this, log, (fn) => this.#lost.add(fn), () => this.#tails.delete(tail));
    this.#tails.add(tail);
    return tail;
  }

  stats(): { published: number; notices: number; publishFailures: number } {
    return { ...this.#counts };
  }

  status(): BusStatus {
    let peers = 0;
    for (const c of this.#channels.keys()) peers = Math.max(peers, c.peersOnFallback);
    return { ...this.#health.status(), peersOnFallback: peers };
  }

  /** On NATS now (not on the fallback). */
  get connected(): boolean {
    return this.#health.state === 'connected';
  }

  async #watch(nc: NatsConnection): Promise<void> {
    void nc.closed().then((err) => this.#closedForGood(nc, err));
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'staleConnection') {
        if (this.#health.state !== 'connected') continue;
        debug('NATS disconnected');
        this.#lost.run('disconnect');
        for (const c of this.#channels.keys()) c.toFallback();
        this.#health.degraded(s.type === 'disconnect' ? `disconnected from ${s.server}` : 'stale connection');
      } else if (s.type === 'reconnect') {
        debug('NATS reconnected to %s', s.server);
        this.#lost.run('reconnect');
        for (const c of this.#channels.keys()) this.#channelToNats(c);
        this.#health.connected();
      } else if (s.type === 'error' || s.type === 'slowConsumer') {
        debug('NATS %s: reading the log again', s.type);
        this.#lost.run('reconnect');
      }
    }
  }

  /** The client gave up on the connection (its `maxReconnectAttempts` ran out, or a fatal error):
   * back to the fallback, and the loop tries to connect again. */
  #closedForGood(nc: NatsConnection, err: void | Error): void {
    if (this.#closing || this.nc !== nc) return;
    debug('NATS connection closed: %s', err ? err.message : 'no error');
    this.nc = undefined;
    for (const t of this.#tails) t.disconnect();
    for (const [c, nats] of this.#channels) {
      c.toFallback();
      void nats?.close();
    }
    // Their NATS channels were on the closed connection: new ones on the next.
    for (const c of this.#channels.keys()) this.#channels.set(c, undefined);
    this.#health.degraded(err ?? 'the NATS connection closed');
    this.#connecting = this.#connectLoop();
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#unhook();
      this.#wake?.();
      // An attempt under way ends on its own (the loop closes what it opens once closing); it is
      // waited for only briefly, so a blackholed NATS does not hold up stop() for its timeout.
      await Promise.race([this.#connecting, new Promise((r) => setTimeout(r, DRAIN_MS).unref())]);
      for (const t of [...this.#tails]) t.close();
      for (const c of this.#channels.keys()) await c.close();
      this.#lost.clear();
      this.#health.closed();
      const nc = this.nc;
      if (!nc) return;
      // Drains what was published (the last commits' events and notices), then closes; with NATS
      // unreachable a drain would wait for a reconnect: after DRAIN_MS the connection just closes
      // (receivers read what they missed from the log).
      let timer: NodeJS.Timeout | undefined;
      const drained = nc.drain().catch((err: Error) => debug('NATS drain failed: %s', err.message));
      const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), DRAIN_MS)));
      if ((await Promise.race([drained, late])) === 'late') {
        debug('NATS drain took over %d ms: closing', DRAIN_MS);
        await nc.close().catch(() => undefined);
      }
      clearTimeout(timer);
    })();
    return this.#closing;
  }
}
