// How many events the Socket.IO packet being written right now carries, so that a socket's
// backlog (see socket-session.ts) counts events, not packets: since `evs`, one packet can carry a
// replay page or a whole batch, and `maxBufferedEvents` bounds server memory in events.
// Socket.IO encodes and hands a packet to each engine.io socket synchronously inside `emit`
// (also for a broadcast), and engine.io reports each packet it creates (`packetCreate`), so the
// count is set around the emit call and read there.

let current = 1;

/** Runs `send` (one Socket.IO emit) with its packets counted as `events` events each. */
export function sendingEvents(events: number, send: () => void): void {
  current = events;
  try {
    send();
  } finally {
    current = 1;
  }
}

/** Events in the packet engine.io is creating now: 1 outside `sendingEvents` (acks, gaps, pings). */
export function eventsOfPacketBeingSent(): number {
  return current;
}
