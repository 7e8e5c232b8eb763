// The live channel between the processes on one PostgreSQL: NOTIFY on the channel
// `<store channel>_live` (one per store schema), LISTEN on the driver's long-lived listening
// connection. A notification is `{"o":origin,"k":kind,"t":tenant,"s":subject,"d":data}` as JSON
// (plus `"i":id` when the message has one);
// `o` is this channel's random id, so a process skips its own notifications (it delivered them to
// itself synchronously in `publish`, before the NOTIFY).
//
// Limits: PostgreSQL refuses a NOTIFY payload of 8000 bytes or more, so `publish` measures the
// JSON first and throws LIVE_TOO_LARGE at the emit (before anything reached anyone). NOTIFY is
// delivered at commit in commit order, at most once per listening connection; a lost LISTEN
// connection, once back, is reported through `onLost` (messages in between are gone).
import { randomUUID } from 'node:crypto';
import createDebug from 'debug';
import { FeteError } from '../../shared/index.js';
import type { Driver } from '../store/driver.js';
import type { Tables } from '../store/tables.js';
import type { LiveChannel, LiveMessage } from './live-channel.js';
import { LiveHandlers } from './local-live-channel.js';

const debug = createDebug('fete:live');

/** PostgreSQL's NOTIFY payload limit: "must be shorter than 8000 bytes" (docs, NOTIFY). */
export const NOTIFY_MAX_BYTES = 7999;
/** What the notification adds around a message: `{"o":"<uuid>","k":..,"t":..,"s":..,"d":..,"i":"<uuid>"}`
 * is 87 bytes more than `{"tenant":..,"subject":..,"data":..}`, which emitters measure. */
const FRAMING_BYTES = 96;
const KINDS = new Set<LiveMessage['kind']>(['volatile', 'latest', 'presence', 'bus']);

export interface PostgresLiveChannelOptions {
  driver: Driver;
  tables: Tables;
}

/** The NOTIFY channel of a store schema's live messages. */
export function liveChannelName(tables: Tables): string {
  return `${tables.channel}_live`;
}

/** A LiveChannel over PostgreSQL NOTIFY; resolves once LISTEN is in place. */
export async function createPostgresLiveChannel({ driver, tables }: PostgresLiveChannelOptions): Promise<LiveChannel> {
  const origin = randomUUID();
  const channel = liveChannelName(tables);
  const handlers = new LiveHandlers();
  const received = (text: string) => {
    let m: { o?: unknown; k?: unknown; t?: unknown; s?: unknown; d?: unknown; i?: unknown };
    try {
      m = JSON.parse(text) as typeof m;
    } catch {
      debug('skipped a notification that is not JSON');
      return;
    }
    if (m.o === origin) return;
    if (!KINDS.has(m.k as LiveMessage['kind']) || typeof m.t !== 'string' || typeof m.s !== 'string') {
      debug('skipped a notification of the wrong shape');
      return;
    }
    handlers.deliver({ kind: m.k as LiveMessage['kind'], tenant: m.t, subject: m.s, data: m.d, ...(typeof m.i === 'string' ? { id: m.i } : {}) });
  };
  let unlisten: (() => Promise<void>) | undefined = await driver.listen(channel, received, () => handlers.lost());
  return {
    transport: 'postgres',
    maxMessageBytes: NOTIFY_MAX_BYTES - FRAMING_BYTES,
    async publish(message) {
      const text = JSON.stringify({ o: origin, k: message.kind, t: message.tenant, s: message.subject, d: message.data, i: message.id });
      const bytes = Buffer.byteLength(text);
      if (bytes > NOTIFY_MAX_BYTES)
        throw new FeteError(
          'LIVE_TOO_LARGE',
          `a ${message.kind} message on "${message.subject}" is ${bytes} bytes on the PostgreSQL live channel, over its limit of ${NOTIFY_MAX_BYTES} (NOTIFY)`,
          { details: { subject: message.subject, size: bytes, maxBytes: NOTIFY_MAX_BYTES } },
        );
      handlers.deliver(message);
      if (!unlisten) return; // closed: local handlers only
      try {
        await driver.query('SELECT pg_notify($1, $2)', [channel, text]);
      } catch (err) {
        // Best effort: the other processes miss it, as on a lost connection.
        debug('NOTIFY on %s failed: %s', channel, (err as Error).message);
      }
    },
    on: (kind, fn) => handlers.on(kind, fn),
    onLost: (fn) => handlers.onLost(fn),
    async close() {
      const u = unlisten;
      unlisten = undefined;
      await u?.().catch(() => undefined);
    },
  };
}
