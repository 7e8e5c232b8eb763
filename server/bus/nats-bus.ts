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
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import createDebug from 'debug';
import type { Envelope, TopicCatalog } from '../../shared/index.js';
import { encodeForBrowser } from '../fanout/browser-envelope.js';
import type { EventLog, LogView } from '../log/event-log.js';
import { Hooks } from '../log/hooks.js';
import { exposureOf } from '../security/exposure.js';
import { tenantOf } from '../security/tenant.js';
import type { LiveChannel } from './live-channel.js';
import type { EventBus, ResolvedBusOptions } from './event-bus.js';
import { connectNats } from './nats-connect.js';
import { createNatsLiveChannel } from './nats-live-channel.js';
import { type BusSubjects, busRoot, busSubjects } from './nats-subjects.js';
import { NatsTail } from './nats-tail.js';

const debug = createDebug('fete:bus');
const encoder = new TextEncoder();

/** How long `close` waits for the last publishes to reach NATS. */
const DRAIN_MS = 2000;
/** Entries per commit notice: a larger commit sends several notices, numbered in order. */
const NOTICE_ENTRIES = 256;

/** One commit notice (see the header). */
export interface CommitNotice {
  p: string;
  n: number;
  /** [seq, subject (null: not published), tenant] per event. */
  s: Array<[number, string | null, string]>;
}

export class NatsBus implements EventBus {
  readonly options: ResolvedBusOptions;
  readonly nc: NatsConnection;
  readonly subjects: BusSubjects;
  readonly publisherId = randomUUID();
  #counter = 0;
  readonly #exposes: (topic: string) => boolean;
  readonly #lost = new Hooks<'disconnect' | 'reconnect'>();
  readonly #tails = new Set<NatsTail>();
  readonly #channels = new Set<LiveChannel>();
  readonly #unhook: () => void;
  readonly #counts = { published: 0, notices: 0, publishFailures: 0 };
  #closing: Promise<void> | undefined;

  private constructor(nc: NatsConnection, options: ResolvedBusOptions, log: EventLog, catalog: TopicCatalog) {
    this.nc = nc;
    this.options = options;
    this.subjects = busSubjects(busRoot(options.prefix, log.epoch));
    const exposure = exposureOf(catalog);
    this.#exposes = (t) => exposure.exposes(t);
    this.#unhook = log.onCommit((events) => this.publish(events));
    void this.#watch();
  }

  /** Connects and starts publishing this process's commits. Throws NETWORK when NATS cannot be
   * reached at start (later outages are survived), INVALID_OPTIONS without the NATS package. */
  static async open(options: ResolvedBusOptions, log: EventLog, catalog: TopicCatalog): Promise<NatsBus> {
    const nc = await connectNats(options.nats, `fete ${log.epoch}`);
    return new NatsBus(nc, options, log, catalog);
  }

  /** Publishes committed events and their notices. Never throws: a failed publish shows up at the
   * receivers as a counter jump or a missing seq, and they read the log. */
  publish(events: readonly Envelope[]): void {
    if (this.#closing || events.length === 0) return;
    const max = this.nc.info?.max_payload ?? 1024 * 1024;
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
            this.nc.publish(this.subjects.event(tenant, e.subject), data);
            this.#counts.published++;
          }
          entries.push([e.seq!, e.subject, tenant]);
        }
        const notice: CommitNotice = { p: this.publisherId, n: ++this.#counter, s: entries };
        this.nc.publish(this.subjects.commits, JSON.stringify(notice));
        this.#counts.notices++;
      }
    } catch (err) {
      this.#counts.publishFailures++;
      debug('publishing %d events failed: %s', events.length, (err as Error).message);
    }
  }

  liveChannel(): LiveChannel {
    const channel = createNatsLiveChannel(this.nc, { root: this.subjects.root });
    this.#channels.add(channel);
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

  async #watch(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect' || s.type === 'staleConnection') {
        debug('NATS disconnected');
        this.#lost.run('disconnect');
      } else if (s.type === 'reconnect') {
        debug('NATS reconnected to %s', s.server);
        this.#lost.run('reconnect');
      } else if (s.type === 'error' || s.type === 'slowConsumer') {
        debug('NATS %s: reading the log again', s.type);
        this.#lost.run('reconnect');
      }
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#unhook();
      for (const t of [...this.#tails]) t.close();
      for (const c of this.#channels) await c.close();
      this.#lost.clear();
      // Drains what was published (the last commits' events and notices), then closes; with NATS
      // unreachable a drain would wait for a reconnect: after DRAIN_MS the connection just closes
      // (receivers read what they missed from the log).
      let timer: NodeJS.Timeout | undefined;
      const drained = this.nc.drain().catch((err: Error) => debug('NATS drain failed: %s', err.message));
      const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), DRAIN_MS)));
      if ((await Promise.race([drained, late])) === 'late') {
        debug('NATS drain took over %d ms: closing', DRAIN_MS);
        await this.nc.close().catch(() => undefined);
      }
      clearTimeout(timer);
    })();
    return this.#closing;
  }
}
