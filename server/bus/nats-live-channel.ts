// The live channel (live-channel.ts) over NATS: volatile events, latest-value changes and presence
// between the processes of one deployment, on the bus's connection (`createFete({ bus: { nats } })`).
// A message goes out on `<root>.live.<kind>.<tenant>.<subject>` (nats-subjects.ts) as JSON
// `{ tenant, subject, data, id? }`; a process subscribes to `<root>.live.<kind>.>` once it has a
// handler for that kind. The connection is opened with `noEcho`, so a process never gets its own
// messages back: `publish` hands them to its own handlers directly, before NATS. At most once: a
// message published while a process is cut off from NATS is lost to it, and `onLost` tells it so
// (on a disconnect, a reconnect, a server error or a slow-consumer notice) so it re-reads the store.
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import createDebug from 'debug';
import { FeteError } from '../../shared/index.js';
import { Hooks } from '../log/hooks.js';
import type { LiveChannel, LiveMessage } from './live-channel.js';
import { tenantToken } from './nats-subjects.js';

const debug = createDebug('fete:bus');
const encoder = new TextEncoder();
const KINDS: ReadonlySet<LiveMessage['kind']> = new Set(['volatile', 'latest', 'presence']);


export interface NatsLiveChannelOptions {
  /** The root of the log's subjects (the bus's `subjects.root`: `<prefix>.<epoch>`). */
  root: string;
}

/** A LiveChannel on `nc` (opened with `noEcho: true`, as the bus opens it). */
export function createNatsLiveChannel(nc: NatsConnection, options: NatsLiveChannelOptions): LiveChannel {
  const base = `${options.root}.live`;
  const handlers = new Map<LiveMessage['kind'], Hooks<LiveMessage>>();
  const subs = new Map<LiveMessage['kind'], Subscription>();
  const lost = new Hooks<void>();
  let closed = false;
  const status = nc.status();

  void (async () => {
    for await (const s of status) {
      if (closed) break;
      if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'error' || s.type === 'slowConsumer' || s.type === 'staleConnection') {
        debug('live channel: NATS %s, messages may have been missed', s.type);
        lost.run();
      }
    }
  })();

  function deliver(kind: LiveMessage['kind'], raw: Uint8Array, subject: string): void {
    let body: { tenant?: unknown; subject?: unknown; data?: unknown; id?: unknown };
    try {
      body = JSON.parse(new TextDecoder().decode(raw)) as typeof body;
    } catch {
      debug('live channel: a message on %s is not JSON', subject);
      return;
    }
    if (typeof body?.tenant !== 'string' || typeof body.subject !== 'string') return;
    handlers.get(kind)?.run({ kind, tenant: body.tenant, subject: body.subject, data: body.data, ...(typeof body.id === 'string' ? { id: body.id } : {}) });
  }

  return {
    transport: 'nats',

    /** The NATS server's max_payload (1 MiB by default), less the message's own keys. */
    get maxMessageBytes(): number {
      return (nc.info?.max_payload ?? 1024 * 1024) - 64;
    },

    async publish(message: LiveMessage): Promise<void> {
      if (!KINDS.has(message.kind)) throw new FeteError('INVALID_OPTIONS', `live channel: unknown kind ${JSON.stringify(message.kind)}`);
      const data = encoder.encode(JSON.stringify({ tenant: message.tenant, subject: message.subject, data: message.data, id: message.id }));
      const max = nc.info?.max_payload ?? 1024 * 1024;
      if (data.length > max)
        throw new FeteError('LIVE_TOO_LARGE', `live message of ${data.length} bytes exceeds the NATS server's max_payload (${max} bytes)`, {
          details: { kind: message.kind, subject: message.subject, bytes: data.length, limit: max },
        });
      handlers.get(message.kind)?.run(message);
      if (closed) return;
      try {
        nc.publish(`${base}.${message.kind}.${tenantToken(message.tenant)}.${message.subject}`, data);
      } catch (err) {
        debug('live channel: publish failed: %s', (err as Error).message);
        lost.run();
      }
    },

    on(kind, fn) {
      let hooks = handlers.get(kind);
      if (!hooks) handlers.set(kind, (hooks = new Hooks<LiveMessage>()));
      const off = hooks.add(fn);
      if (!subs.has(kind) && !closed)
        subs.set(
          kind,
          nc.subscribe(`${base}.${kind}.>`, {
            callback: (err, msg) => {
              if (err) {
                debug('live channel: subscription error: %s', err.message);
                lost.run();
              } else deliver(kind, msg.data, msg.subject);
            },
          }),
        );
      return () => {
        off();
        if (hooks.size === 0) {
          subs.get(kind)?.unsubscribe();
          subs.delete(kind);
        }
      };
    },

    onLost(fn) {
      return lost.add(() => fn());
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const s of subs.values()) s.unsubscribe();
      subs.clear();
      lost.clear();
      (status as { stop?: () => void }).stop?.();
    },
  };
}
