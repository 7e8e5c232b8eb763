// Presence changes to the sockets of one Socket.IO namespace, batched and framed once: the changes
// a tick brings for each watch go out as one `pev` packet, and every socket whose watch took the
// same changes under the same wid (the client numbers its watches from `w0`, so most do) gets the
// same packet in one broadcast, encoded once. Without it, N sockets watching a room that N others
// join cost N×N packets, each encoded on its own. Measured ad hoc (300 sockets each watching and
// joining one room through two fetes on PostgreSQL, a loaded 2-core machine): one packet per
// change gave 90,000 packets and 2.3-3.7 s until everyone listed everyone; batched, 450-600
// packets and 0.7-1.1 s. The kept measurement is `npm run bench -- presence` (one fete against a
// hand-rolled Socket.IO room broadcast).
import type { Namespace } from 'socket.io';
import type { PresenceChange, PresenceEventPacket } from '../../shared/index.js';

/** One watch of one socket, as the broadcaster sees it: changes queued for an ended watch are dropped. */
export interface WatchTarget {
  readonly socketId: string;
  readonly wid: string;
  readonly ended: boolean;
}

export class PresenceBroadcast {
  readonly #nsp: Namespace;
  #queued = new Map<WatchTarget, PresenceChange[]>();
  #scheduled = false;

  constructor(nsp: Namespace) {
    this.#nsp = nsp;
  }

  /** Queues `change` for `target`; sent with the other changes of this tick. */
  push(target: WatchTarget, change: PresenceChange): void {
    const list = this.#queued.get(target);
    if (list) list.push(change);
    else this.#queued.set(target, [change]);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    const queued = this.#queued;
    this.#queued = new Map();
    // The same change object reaches every watch of its region: numbered once, so that watches
    // that took the same changes in the same order share a key (and a packet).
    const index = new Map<PresenceChange, number>();
    const groups = new Map<string, { packet: PresenceEventPacket; socketIds: string[] }>();
    for (const [target, changes] of queued) {
      if (target.ended) continue;
      const ids = changes.map((c) => {
        let i = index.get(c);
        if (i === undefined) index.set(c, (i = index.size));
        return i;
      });
      const key = `${target.wid}\n${ids.join(',')}`;
      const group = groups.get(key);
      if (group) group.socketIds.push(target.socketId);
      else groups.set(key, { packet: { wid: target.wid, changes }, socketIds: [target.socketId] });
    }
    for (const { packet, socketIds } of groups.values()) this.#nsp.local.to(socketIds).emit('pev', packet);
  }
}

const byNamespace = new WeakMap<Namespace, PresenceBroadcast>();

/** The broadcaster of a namespace, made once. */
export function presenceBroadcastOf(nsp: Namespace): PresenceBroadcast {
  let b = byNamespace.get(nsp);
  if (!b) byNamespace.set(nsp, (b = new PresenceBroadcast(nsp)));
  return b;
}
