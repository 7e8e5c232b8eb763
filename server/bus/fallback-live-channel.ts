// The live channel of a node with the NATS bus (live-channel.ts): volatile, latest and presence
// messages go out on NATS while the bus is connected and on the fallback channel while it is not
// (the PostgreSQL live channel on a shared PostgreSQL store; the local one on a store no other
// process shares), so that they reach every node's subscribers through a NATS outage, and through
// a start with NATS unreachable.
//
// Receiving: the node listens on both transports all the time, so a node on the fallback is heard
// by nodes on NATS. The other way round, a node cut off from NATS while the others reach it says
// so: while on a PostgreSQL fallback it sends a `bus` notice there (`{ node, fallback: true }`)
// at once and every HEARTBEAT_MS, and `{ node, fallback: false }` once back on NATS (after NATS
// confirmed its subscriptions) or when it closes. A node on NATS that heard such a notice in the
// last PEER_TTL_MS (a crashed node stops beating and drops out) sends its live messages on both
// transports, each copy with the same random `id`; every receiver keeps the ids it delivered (the
// last SEEN_MAX) and drops the second copy. So while every node is on NATS a message costs one
// NATS publish and nothing on PostgreSQL; while one node is cut off, one NOTIFY more per message
// from every node (measured in the README's NATS part), and that node misses only what was sent
// before the others heard its first notice (one NOTIFY's latency after its NATS client noticed the
// disconnect). A fallback that is local (a store no other process shares) carries no notices.
//
// Every switch of transport is reported through `onLost` (the NATS channel also reports its own
// disconnects and reconnects), so receivers re-read the latest values and the presence table.
// `maxMessageBytes` is the smaller of both limits, so an emit is refused (LIVE_TOO_LARGE) or taken
// the same way whether NATS is up or not: with PostgreSQL it is NOTIFY's (under 8000 bytes, the
// copy's `id` included).
import { randomUUID } from 'node:crypto';
import createDebug from 'debug';
import { FeteError } from '../../shared/index.js';
import { Hooks } from '../log/hooks.js';
import type { LiveChannel, LiveMessage } from './live-channel.js';

const debug = createDebug('fete:bus');

type Kind = LiveMessage['kind'];

/** NATS's default max_payload (1 MiB) less the message's own keys, before NATS was ever reached. */
const NATS_DEFAULT_MAX = 1024 * 1024 - 64;
/** How often a node on the fallback repeats its notice. */
export const HEARTBEAT_MS = 2000;
/** How long a notice keeps the other nodes sending on both transports: three beats missed. */
export const PEER_TTL_MS = 3 * HEARTBEAT_MS;
/** Ids of messages sent on both transports that a receiver remembers, to drop the second copy.
 * Both copies of a message arrive within the transports' latencies of each other; at 16,384 the
 * window is seconds even at thousands of messages per second (about 1.5 MB at most). */
const SEEN_MAX = 16_384;

/** The `bus` notice's data. */
interface BusNotice {
  node: string;
  fallback: boolean;
}

export interface FallbackLiveChannel extends LiveChannel {
  /** NATS is connected: publish on `nats` (the channel on the current connection) from now on.
   * `ready` resolves once NATS has this node's subscriptions (a flush): the other nodes are told
   * then that they may stop sending on the fallback. */
  toNats(nats: LiveChannel, ready?: Promise<unknown>): void;
  /** NATS is unreachable: publish on the fallback from now on. */
  toFallback(): void;
  /** Other nodes that said they are on the fallback (a notice in the last PEER_TTL_MS): while
   * there is one, this node's live messages go on both transports. */
  readonly peersOnFallback: number;
}

/** A live channel on `fallback` until `toNats`; closes `fallback` (and the NATS channel) with it. */
export function createFallbackLiveChannel(fallback: LiveChannel): FallbackLiveChannel {
  const handlers = new Map<Kind, Hooks<LiveMessage>>();
  const lost = new Hooks<void>();
  /** Per transport and kind: the forwarder registered there while the kind has handlers. */
  const forwarders = new Map<LiveChannel, Map<Kind, () => void>>();
  let nats: LiveChannel | undefined;
  let active: LiveChannel = fallback;
  let closed = false;
  const self = randomUUID();
  /** Other nodes on the fallback: node id -> when its last notice expires (ms since the epoch). */
  const peers = new Map<string, number>();
  /** Ids of messages sent on both transports already delivered here, oldest first. */
  const seen = new Set<string>();
  let beat: NodeJS.Timeout | undefined;
  // Only a fallback shared with other processes can carry notices (not the local one).
  const shared = fallback.transport !== 'local';

  const deliver = (m: LiveMessage) => {
    if (m.id !== undefined) {
      if (seen.has(m.id)) return;
      seen.add(m.id);
      if (seen.size > SEEN_MAX) seen.delete(seen.values().next().value!);
    }
    handlers.get(m.kind)?.run(m);
  };
  const forward = (channel: LiveChannel, kind: Kind) => {
    let byKind = forwarders.get(channel);
    if (!byKind) forwarders.set(channel, (byKind = new Map()));
    if (!byKind.has(kind)) byKind.set(kind, channel.on(kind, deliver));
  };
  const unforward = (kind: Kind) => {
    for (const byKind of forwarders.values()) {
      byKind.get(kind)?.();
      byKind.delete(kind);
    }
  };
  const offFallbackLost = fallback.onLost(() => lost.run());
  let offNatsLost: (() => void) | undefined;

  const announce = (onFallback: boolean): Promise<void> =>
    fallback
      .publish({ kind: 'bus', tenant: '', subject: 'bus.fallback', data: { node: self, fallback: onFallback } satisfies BusNotice })
      .catch((err: Error) => debug('bus notice not sent: %s', err.message));
  const startBeating = () => {
    if (!shared || beat) return;
    void announce(true);
    // Unref'd: the notices alone do not keep a process alive.
    beat = setInterval(() => void announce(true), HEARTBEAT_MS).unref();
  };
  const stopBeating = () => {
    clearInterval(beat);
    beat = undefined;
  };
  const offNotices = fallback.on('bus', (m) => {
    const n = m.data as Partial<BusNotice> | null;
    if (typeof n?.node !== 'string' || n.node === self) return;
    if (n.fallback === true) peers.set(n.node, Date.now() + PEER_TTL_MS);
    else peers.delete(n.node);
  });
  const peerCount = () => {
    const now = Date.now();
    for (const [node, until] of peers) if (until <= now) peers.delete(node);
    return peers.size;
  };
  // Still on the fallback once the bus had its chance to move this channel onto NATS (it does so
  // synchronously when it is connected): say so.
  queueMicrotask(() => {
    if (!closed && active === fallback) startBeating();
  });

  return {
    get transport() {
      return active.transport;
    },

    get maxMessageBytes(): number | undefined {
      const natsMax = nats?.maxMessageBytes ?? NATS_DEFAULT_MAX;
      return fallback.maxMessageBytes === undefined ? natsMax : Math.min(fallback.maxMessageBytes, natsMax);
    },

    get peersOnFallback(): number {
      return peerCount();
    },

    async publish(message) {
      const max = this.maxMessageBytes;
      if (max !== undefined) {
        const bytes = Buffer.byteLength(JSON.stringify({ tenant: message.tenant, subject: message.subject, data: message.data }));
        if (bytes > max)
          throw new FeteError('LIVE_TOO_LARGE', `a ${message.kind} message on "${message.subject}" is ${bytes} bytes, over the live channel's limit of ${max} (the smaller of NATS's and the fallback's)`, {
            details: { subject: message.subject, size: bytes, maxBytes: max },
          });
      }
      // Closed: this process's handlers only (the contract).
      if (closed) return void deliver(message);
      // The transport delivers to this process's handlers synchronously (our forwarder), then sends.
      if (active === fallback || !shared || peerCount() === 0) return active.publish(message);
      // A node is cut off from NATS: a copy on the fallback too, the same id on both (the local
      // delivery of the second copy is dropped like a receiver's).
      const copy: LiveMessage = { ...message, id: randomUUID() };
      await active.publish(copy);
      await fallback.publish(copy);
    },

    on(kind, fn) {
      let hooks = handlers.get(kind);
      if (!hooks) handlers.set(kind, (hooks = new Hooks<LiveMessage>()));
      const off = hooks.add(fn);
      if (!closed) {
        forward(fallback, kind);
        if (nats) forward(nats, kind);
      }
      return () => {
        off();
        if (hooks.size === 0) unforward(kind);
      };
    },

    onLost(fn) {
      return lost.add(() => fn());
    },

    toNats(channel, ready) {
      if (closed) return;
      if (channel !== nats) {
        // A new connection (the client gave up on the last one): its channel replaces the old.
        if (nats) {
          for (const off of forwarders.get(nats)?.values() ?? []) off();
          forwarders.delete(nats);
          offNatsLost?.();
        }
        nats = channel;
        offNatsLost = nats.onLost(() => lost.run());
        for (const [kind, hooks] of handlers) if (hooks.size > 0) forward(nats, kind);
      }
      if (active === nats) return;
      active = nats;
      debug('live channel: on NATS');
      if (beat) {
        stopBeating();
        // Once NATS has our subscriptions, the others may stop sending on the fallback for us.
        void Promise.resolve(ready).then(
          () => {
            if (active === channel && !closed) void announce(false);
          },
          () => undefined,
        );
      }
      // What other nodes published while this one was switching may be missed: re-read.
      lost.run();
    },

    toFallback() {
      if (closed || active === fallback) return;
      active = fallback;
      debug('live channel: on the %s fallback', fallback.transport);
      startBeating();
      lost.run();
    },

    async close() {
      if (closed) return;
      closed = true;
      if (beat) {
        stopBeating();
        await announce(false);
      }
      offNotices();
      offFallbackLost();
      offNatsLost?.();
      for (const kind of [...handlers.keys()]) unforward(kind);
      lost.clear();
      peers.clear();
      seen.clear();
      await Promise.allSettled([fallback.close(), nats?.close()]);
    },
  };
}
