// The live channel of a node with the NATS bus (live-channel.ts): volatile, latest and presence
// messages go out on NATS while the bus is connected and on the fallback channel while it is not
// (the PostgreSQL live channel on a shared PostgreSQL store; the local one on a store no other
// process shares), so that they reach every node's subscribers through a NATS outage, and through
// a start with NATS unreachable.
//
// Receiving: the node listens on both transports all the time. A message is published on exactly
// one of them, so nothing arrives twice, and a node still on the fallback (NATS down, or not yet
// back for it) is heard by nodes already on NATS. The reverse is the weak spot: a node cut off from
// NATS while others reach it misses what they publish on NATS until it is back (at most once is
// the channel's contract; latest values and presence are re-read then, see `onLost`).
//
// Every switch of transport is reported through `onLost` (the NATS channel also reports its own
// disconnects and reconnects), so receivers re-read the latest values and the presence table.
// `maxMessageBytes` is the smaller of both limits, so an emit is refused (LIVE_TOO_LARGE) or taken
// the same way whether NATS is up or not: with PostgreSQL it is NOTIFY's (under 8000 bytes).
import createDebug from 'debug';
import { FeteError } from '../../shared/index.js';
import { Hooks } from '../log/hooks.js';
import type { LiveChannel, LiveMessage } from './live-channel.js';

const debug = createDebug('fete:bus');

type Kind = LiveMessage['kind'];

/** NATS's default max_payload (1 MiB) less the message's own keys, before NATS was ever reached. */
const NATS_DEFAULT_MAX = 1024 * 1024 - 64;

export interface FallbackLiveChannel extends LiveChannel {
  /** NATS is connected: publish on `nats` (the channel on the current connection) from now on. */
  toNats(nats: LiveChannel): void;
  /** NATS is unreachable: publish on the fallback from now on. */
  toFallback(): void;
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

  const deliver = (m: LiveMessage) => handlers.get(m.kind)?.run(m);
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

  return {
    get transport() {
      return active.transport;
    },

    get maxMessageBytes(): number | undefined {
      const natsMax = nats?.maxMessageBytes ?? NATS_DEFAULT_MAX;
      return fallback.maxMessageBytes === undefined ? natsMax : Math.min(fallback.maxMessageBytes, natsMax);
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
      await active.publish(message);
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

    toNats(channel) {
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
      // What other nodes published while this one was switching may be missed: re-read.
      lost.run();
    },

    toFallback() {
      if (closed || active === fallback) return;
      active = fallback;
      debug('live channel: on the %s fallback', fallback.transport);
      lost.run();
    },

    async close() {
      if (closed) return;
      closed = true;
      offFallbackLost();
      offNatsLost?.();
      for (const kind of [...handlers.keys()]) unforward(kind);
      lost.clear();
      await Promise.allSettled([fallback.close(), nats?.close()]);
    },
  };
}
