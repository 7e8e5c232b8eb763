// Messages between the tabs sharing an outbox, over BroadcastChannel: a tab that queued entries
// wakes the leader, and the leader tells the other tabs which of their entries the server settled.
// Only a hint: every message has a polling fallback, so a tab without BroadcastChannel (or one that
// missed a message) still converges.
import type { ResultRecord } from './outbox-store.js';

export type TabMessage =
  /** Entries were appended to the queue: the leader should look. */
  | { t: 'enqueued' }
  /** The leader settled entries; `results` are those written by other tabs. */
  | { t: 'settled'; results: ResultRecord[] }
  /** A tab cleared the queue (`client.outbox.clear()`): these entries will never be sent. */
  | { t: 'cleared'; ids: string[] };

export type ChannelFactory = (name: string) => BroadcastChannel;

export interface TabChannel {
  post(message: TabMessage): void;
  close(): void;
}

const silent: TabChannel = { post() {}, close() {} };

function isTabMessage(value: unknown): value is TabMessage {
  if (value === null || typeof value !== 'object') return false;
  const m = value as { t?: unknown; results?: unknown; ids?: unknown };
  return m.t === 'enqueued' || (m.t === 'settled' && Array.isArray(m.results)) || (m.t === 'cleared' && Array.isArray(m.ids) && m.ids.every((id) => typeof id === 'string'));
}

export function openTabChannel(factory: ChannelFactory | undefined, name: string, onMessage: (m: TabMessage) => void): TabChannel {
  if (factory === undefined) return silent;
  let channel: BroadcastChannel;
  try {
    channel = factory(name);
  } catch {
    return silent; // e.g. an opaque origin: polling covers it
  }
  channel.onmessage = (event: MessageEvent<unknown>) => {
    if (isTabMessage(event.data)) onMessage(event.data);
  };
  return {
    post(message) {
      try {
        channel.postMessage(message);
      } catch {
        // A closed or broken channel: polling covers it.
      }
    },
    close() {
      channel.onmessage = null;
      channel.close();
    },
  };
}
