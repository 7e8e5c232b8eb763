// GET /metrics: fete's numbers in the Prometheus text format. Queue depths and ages come from
// `fete.stats()` (one store query per scrape), attempt outcomes and the dispatcher's state from
// `fete.workerStatus()` (this process), HTTP counters from this middleware, and the Socket.IO
// fanout's counters from `fanoutStats` when the app attached one. Gauges for states, counters for
// totals since start; label values are escaped (listener names and topics are user text).
import type { BusState, BusStatus } from '../bus/event-bus.js';
import type { BacklogCounts, DispatcherState, FeteStats, WorkerStatus } from '../types.js';
import type { FanoutStats } from '../fanout/types.js';
import type { EmitCounters } from './emit-route.js';
import type { MetricFamily } from './prometheus-text.js';

const STATES = ['pending', 'running', 'retrying', 'dead'] as const;

function byState(labels: Record<string, string>, c: BacklogCounts) {
  return STATES.map((state) => ({ labels: { ...labels, state }, value: c[state] }));
}

export interface HttpCounters {
  emits: EmitCounters;
  /** SSE connections open now. */
  streams: () => number;
  /** Of those, the ones waiting for a slow client to read (backpressure). */
  streamsWaiting: () => number;
  /** Times a slow stream stopped live delivery and caught up from the log. */
  streamOverflows?: () => number;
  /** Presence watches open now as SSE (GET /presence). */
  presenceStreams?: () => number;
}

const OUTCOMES = ['completed', 'retried', 'dead'] as const;
const DISPATCHER_STATES: readonly DispatcherState[] = ['off', 'idle', 'running', 'stopping', 'stopped'];

export function metricFamilies(stats: FeteStats, http: HttpCounters, fanout: FanoutStats | undefined, worker?: WorkerStatus): MetricFamily[] {
  const families: MetricFamily[] = [
    {
      name: 'fete_log_head_seq',
      help: 'The highest seq appended to the event log.',
      type: 'gauge',
      samples: [{ value: stats.headSeq }],
    },
    {
      name: 'fete_listener_deliveries',
      help: 'Deliveries of each listener by state (pending, running, retrying, dead).',
      type: 'gauge',
      samples: stats.listeners.flatMap((l) => byState({ target: l.target, listener: l.name, durable: String(l.durable) }, l)),
    },
    {
      name: 'fete_listener_orphaned',
      help: 'Durable listeners no process has registered for listeners.orphanAfterMs: 1 if orphaned, else 0.',
      type: 'gauge',
      samples: stats.listeners.filter((l) => l.durable && !l.retired).map((l) => ({ labels: { target: l.target, listener: l.name }, value: l.orphaned ? 1 : 0 })),
    },
    {
      name: 'fete_listener_oldest_pending_age_seconds',
      help: 'How long the oldest due delivery of each listener has waited.',
      type: 'gauge',
      samples: stats.listeners.map((l) => ({ labels: { target: l.target, listener: l.name }, value: l.oldestPendingAgeMs / 1000 })),
    },
    {
      name: 'fete_topic_deliveries',
      help: 'Deliveries of events of each topic by state, over all listeners.',
      type: 'gauge',
      samples: stats.topics.flatMap((t) => byState({ topic: t.topic }, t)),
    },
    {
      name: 'fete_topic_oldest_pending_age_seconds',
      help: 'How long the oldest due delivery of an event of each topic has waited.',
      type: 'gauge',
      samples: stats.topics.map((t) => ({ labels: { topic: t.topic }, value: t.oldestPendingAgeMs / 1000 })),
    },
    {
      name: 'fete_http_emits_total',
      help: 'Events emitted through POST /emit, by outcome.',
      type: 'counter',
      samples: (['accepted', 'duplicate', 'rejected'] as const).map((outcome) => ({ labels: { outcome }, value: http.emits[outcome] })),
    },
    {
      name: 'fete_http_streams',
      help: 'Server-Sent Events streams open now.',
      type: 'gauge',
      samples: [{ value: http.streams() }],
    },
    {
      name: 'fete_http_streams_waiting',
      help: 'Server-Sent Events streams paused until a slow client reads what was sent (backpressure).',
      type: 'gauge',
      samples: [{ value: http.streamsWaiting() }],
    },
    {
      name: 'fete_http_presence_streams',
      help: 'Presence watches open now as Server-Sent Events (GET /presence).',
      type: 'gauge',
      samples: [{ value: http.presenceStreams?.() ?? 0 }],
    },
    {
      name: 'fete_http_stream_overflows_total',
      help: 'Times a slow Server-Sent Events stream stopped live delivery and caught up from the log.',
      type: 'counter',
      samples: [{ value: http.streamOverflows?.() ?? 0 }],
    },
  ];
  const schedules = stats.schedules ?? [];
  if (schedules.length > 0) {
    const at = (iso: string | null) => (iso === null ? Number.NaN : Date.parse(iso) / 1000);
    families.push(
      {
        name: 'fete_schedule_next_run_timestamp_seconds',
        help: 'When each schedule runs next (Unix time; NaN when unknown).',
        type: 'gauge',
        samples: schedules.map((s) => ({ labels: { schedule: s.name, kind: s.kind }, value: at(s.nextRunAt) })),
      },
      {
        name: 'fete_schedule_last_tick_timestamp_seconds',
        help: 'The latest tick of each schedule that was appended (Unix time; NaN before the first).',
        type: 'gauge',
        samples: schedules.map((s) => ({ labels: { schedule: s.name, kind: s.kind }, value: at(s.lastTick) })),
      },
      {
        name: 'fete_schedule_last_run_timestamp_seconds',
        help: 'When a run of each handler schedule last completed (Unix time; NaN before the first).',
        type: 'gauge',
        samples: schedules.map((s) => ({ labels: { schedule: s.name, kind: s.kind }, value: at(s.lastRunAt) })),
      },
    );
  }
  if (stats.bus) families.push(...busFamilies(stats.bus));
  if (worker) families.push(...workerFamilies(worker));
  if (fanout) families.push(...fanoutFamilies(fanout));
  return families;
}

const BUS_STATES: readonly BusState[] = ['connected', 'degraded', 'down'];

/** The NATS bus's state (`bus` option): where it is and how often it fell back. */
function busFamilies(b: BusStatus): MetricFamily[] {
  return [
    {
      name: 'fete_bus_state',
      help: "This node's NATS bus: 1 for its current state (connected; degraded: on the PostgreSQL fallback; down: closed).",
      type: 'gauge',
      samples: BUS_STATES.map((state) => ({ labels: { state }, value: b.state === state ? 1 : 0 })),
    },
    { name: 'fete_bus_fallbacks_total', help: 'Times this node moved onto the PostgreSQL fallback because NATS was unreachable.', type: 'counter', samples: [{ value: b.fallbacks }] },
    { name: 'fete_bus_recoveries_total', help: 'Times this node moved (back) onto NATS, the first connection included.', type: 'counter', samples: [{ value: b.recoveries }] },
    {
      name: 'fete_bus_peers_on_fallback',
      help: 'Other nodes cut off from NATS (on the PostgreSQL fallback), for which this node also sends its live messages on PostgreSQL.',
      type: 'gauge',
      samples: [{ value: b.peersOnFallback }],
    },
  ];
}

function workerFamilies(w: WorkerStatus): MetricFamily[] {
  return [
    {
      name: 'fete_dispatcher_state',
      help: "This process's durable dispatcher: 1 for its current state (off, idle, running, stopping, stopped).",
      type: 'gauge',
      samples: DISPATCHER_STATES.map((state) => ({ labels: { state }, value: w.dispatcher === state ? 1 : 0 })),
    },
    {
      name: 'fete_attempts_total',
      help: "Listener attempts in this process by outcome: completed, retried (failed, another attempt scheduled), dead (failed, dead-lettered).",
      type: 'counter',
      samples: OUTCOMES.map((outcome) => ({ labels: { outcome }, value: w.outcomes[outcome] })),
    },
    {
      name: 'fete_listener_attempts_total',
      help: 'Attempts of each listener registered in this process, by outcome.',
      type: 'counter',
      samples: w.byListener.flatMap((l) =>
        OUTCOMES.map((outcome) => ({ labels: { target: l.target, listener: l.name, durable: String(l.durable), outcome }, value: l[outcome] })),
      ),
    },
  ];
}

function fanoutFamilies(f: FanoutStats): MetricFamily[] {
  const one = (name: string, help: string, type: 'gauge' | 'counter', value: number): MetricFamily => ({ name, help, type, samples: [{ value }] });
  return [
    one('fete_fanout_sockets', 'Sockets connected to the realtime namespace now.', 'gauge', f.sockets),
    one('fete_fanout_subscriptions', 'Subscriptions held now, over all sockets.', 'gauge', f.subscriptions),
    one('fete_fanout_catching_up', 'Subscriptions replaying or catching up from the log now.', 'gauge', f.catchingUp),
    one('fete_fanout_events_routed_total', 'Events read from the log and routed to subscriptions.', 'counter', f.eventsRouted),
    one('fete_fanout_events_sent_total', 'Event packets sent to sockets (one per event per subscription).', 'counter', f.eventsSent),
    one('fete_fanout_events_sent_per_second', 'Event packets sent to sockets per second, over the last 10 seconds.', 'gauge', f.eventsSentPerSecond),
    one('fete_fanout_overflows_total', 'Times a slow socket fell back from live delivery to the log.', 'counter', f.overflows),
    one('fete_fanout_retention_gaps_total', 'Gaps reported because the log could not cover a resume (pruned by retention, another epoch, beyond the head).', 'counter', f.retentionGaps),
    one('fete_fanout_volatile_dropped_total', 'Volatile events not sent to a socket that was already too far behind (they are never replayed).', 'counter', f.volatileDropped),
    one('fete_fanout_refused_connections_total', 'Connections refused at the handshake.', 'counter', f.refusedConnections),
    {
      name: 'fete_fanout_emits_total',
      help: 'Events emitted by clients over sockets, by outcome.',
      type: 'counter',
      samples: (['accepted', 'duplicate', 'rejected'] as const).map((outcome) => ({ labels: { outcome }, value: f.emits[outcome] })),
    },
    one('fete_fanout_tail_cursor', 'Every event with seq up to this has been routed by the fanout.', 'gauge', f.tailCursor),
    ...(f.bus === undefined
      ? []
      : [
          one('fete_bus_events_received_total', 'Events this node received over the NATS bus.', 'counter', f.bus.received),
          one('fete_bus_seqs_skipped_total', 'Seqs passed over on a commit notice (no socket here wanted them).', 'counter', f.bus.skipped),
          one('fete_bus_lost_total', 'Times bus messages may have been lost (disconnect, reconnect, a publisher counter jump): the log was read.', 'counter', f.bus.lost),
          one('fete_bus_log_reads_total', 'Reads of the log by the fanout tail over the bus.', 'counter', f.bus.reads),
          one('fete_bus_subscriptions', 'NATS subscriptions this node holds for its sockets\' patterns.', 'gauge', f.bus.subscribed),
        ]),
  ];
}
