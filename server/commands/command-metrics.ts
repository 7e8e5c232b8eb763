// Observations of commands and queries in this process: calls counted and timed by (kind, name,
// outcome) for /metrics, and the most recent results and failures for the inspector. Names are
// only those of registered handlers (a name off the wire that is not registered counts as
// "(unknown)"), so hostile input cannot grow the label set.
import type { FeteErrorCode, RequestKind } from '../../shared/index.js';
import type { MetricFamily } from '../http/prometheus-text.js';

/** How a call ended: the handler's result (`ok`), a recorded result returned again (`duplicate`),
 * a deliberate rejection (`rejected`), refused before the handler ran (`refused`: input, auth,
 * no handler), or failed (`failed`: a throw, timeout, the store). */
export type RequestOutcome = 'ok' | 'duplicate' | 'rejected' | 'refused' | 'failed';
const OUTCOMES: readonly RequestOutcome[] = ['ok', 'duplicate', 'rejected', 'refused', 'failed'];

export interface RecentRequest {
  id: string;
  kind: RequestKind;
  name: string;
  outcome: RequestOutcome;
  code?: FeteErrorCode;
  reason?: string;
  durationMs: number;
  at: string;
}

export interface RequestCounts {
  kind: RequestKind;
  name: string;
  outcome: RequestOutcome;
  count: number;
  /** Total time of those calls, in seconds. */
  seconds: number;
}

/** Most recent calls kept per list. */
const RECENT = 50;

/** A recent call as kept: the time as a number, formatted only when the inspector asks. */
type Kept = Omit<RecentRequest, 'at'> & { atMs: number };

export class CommandMetrics {
  readonly #counts = new Map<string, RequestCounts>();
  readonly #recent: Kept[] = [];
  readonly #failures: Kept[] = [];

  /** Called once per call, on the hot path: keeps `r` itself (the caller hands it over), no date
   * formatting. */
  record(r: Omit<RecentRequest, 'at'>): void {
    const key = `${r.kind}\u0000${r.name}\u0000${r.outcome}`;
    let c = this.#counts.get(key);
    if (!c) this.#counts.set(key, (c = { kind: r.kind, name: r.name, outcome: r.outcome, count: 0, seconds: 0 }));
    c.count++;
    c.seconds += r.durationMs / 1000;
    const entry = r as Kept;
    entry.atMs = Date.now();
    push(this.#recent, entry);
    if (r.outcome !== 'ok' && r.outcome !== 'duplicate') push(this.#failures, entry);
  }

  counts(): RequestCounts[] {
    return [...this.#counts.values()].map((c) => ({ ...c }));
  }

  /** Newest first. */
  recent(): { results: RecentRequest[]; failures: RecentRequest[] } {
    const shown = (list: Kept[]) => list.map(({ atMs, ...r }) => ({ ...r, at: new Date(atMs).toISOString() })).reverse();
    return { results: shown(this.#recent), failures: shown(this.#failures) };
  }
}

function push<T>(list: T[], r: T): void {
  list.push(r);
  if (list.length > RECENT) list.shift();
}

/** The Prometheus families of command and query calls. */
export function requestMetricFamilies(counts: readonly RequestCounts[]): MetricFamily[] {
  const labels = (c: RequestCounts) => ({ kind: c.kind, name: c.name, outcome: c.outcome });
  return [
    {
      name: 'fete_requests_total',
      help: `Commands and queries handled by this process, by kind, name and outcome (${OUTCOMES.join(', ')}).`,
      type: 'counter',
      samples: counts.map((c) => ({ labels: labels(c), value: c.count })),
    },
    {
      name: 'fete_request_duration_seconds_total',
      help: 'Total time of the commands and queries counted in fete_requests_total (divide for the mean).',
      type: 'counter',
      samples: counts.map((c) => ({ labels: labels(c), value: c.seconds })),
    },
  ];
}
