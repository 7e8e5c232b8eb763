// Summing the counters of several attached fanouts (`fete.fanoutStats()`), and the zero value
// for a process that has attached none.
import type { FanoutStats } from './types.js';

/** All counters at zero: the start of every fanout's counters and of a sum. */
export function zeroFanoutStats(): FanoutStats {
  return {
    sockets: 0,
    subscriptions: 0,
    catchingUp: 0,
    eventsRouted: 0,
    eventsSent: 0,
    eventsSentPerSecond: 0,
    overflows: 0,
    retentionGaps: 0,
    volatileDropped: 0,
    refusedConnections: 0,
    emits: { accepted: 0, duplicate: 0, rejected: 0 },
    tailCursor: 0,
  };
}

export function sumFanoutStats(all: readonly FanoutStats[]): FanoutStats {
  const out = zeroFanoutStats();
  for (const s of all) {
    out.sockets += s.sockets;
    out.subscriptions += s.subscriptions;
    out.catchingUp += s.catchingUp;
    out.eventsRouted += s.eventsRouted;
    out.eventsSent += s.eventsSent;
    out.eventsSentPerSecond += s.eventsSentPerSecond;
    out.overflows += s.overflows;
    out.retentionGaps += s.retentionGaps;
    out.volatileDropped += s.volatileDropped;
    out.refusedConnections += s.refusedConnections;
    out.emits.accepted += s.emits.accepted;
    out.emits.duplicate += s.emits.duplicate;
    out.emits.rejected += s.emits.rejected;
    out.tailCursor = Math.max(out.tailCursor, s.tailCursor);
  }
  return out;
}
