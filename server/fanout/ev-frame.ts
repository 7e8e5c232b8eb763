// The Socket.IO frame of an `ev` / `evs` packet for one subscription, built from each event's JSON
// text: when the fanout sends the same events to many sockets in packets that differ (one sid per
// socket), each event is stringified once per flush instead of once per socket, and only the few
// bytes around it are built per packet. The text is exactly what Socket.IO's default parser makes
// of `socket.emit(event, packet)` (an EVENT packet: type, namespace, JSON of [event, packet]; the
// test compares them), so it is used only with that parser.
import type { Socket } from 'socket.io';

/** Socket.IO's EVENT packet type (socket.io-parser `PacketType.EVENT`). */
const EVENT = 2;

/** The frame of `ev {sid, e}` (one event) or `evs {sid, es}` (several), from each event's JSON. */
export function evFrame(namespace: string, sid: string, texts: readonly string[]): string {
  const head = namespace === '/' ? `${EVENT}` : `${EVENT}${namespace},`;
  const s = JSON.stringify(sid);
  return texts.length === 1 ? `${head}["ev",{"sid":${s},"e":${texts[0]}}]` : `${head}["evs",{"sid":${s},"es":[${texts.join(',')}]}]`;
}

/** What a socket's client offers for frames encoded already (Socket.IO 4's `Client#_packet`, which
 * its adapter also uses for broadcasts): undefined where it is missing. */
function clientOf(socket: Socket): { _packet(frame: string, opts: { preEncoded: boolean; compress: boolean }): void } | undefined {
  const client = (socket as unknown as { client?: { _packet?: unknown } }).client;
  return typeof client?._packet === 'function' ? (client as ReturnType<typeof clientOf>) : undefined;
}

/** Writes `frame` to `socket` as `socket.emit` would write its encoding; false when this Socket.IO
 * offers no way to (the caller emits the packet instead). */
export function writeFrame(socket: Socket, frame: string): boolean {
  const client = clientOf(socket);
  if (!client) return false;
  client._packet(frame, { preEncoded: true, compress: true });
  return true;
}
