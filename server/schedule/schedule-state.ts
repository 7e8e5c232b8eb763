// Where schedules keep their state (last tick, next run, adaptive interval): the store's
// `schedules` table, shared by every process (store/schedule-queries.ts), or memory under
// `dispatch: 'inline'` (below). Times are epoch ms.
export interface ScheduleRow {
  name: string;
  spec: Record<string, unknown>;
  lastTick: number | undefined;
  lastRunAt: number | undefined;
  nextRunAt: number | undefined;
  intervalMs: number | undefined;
}

export interface ScheduleState {
  /** Records the schedule (or refreshes its spec) and returns its row. An adaptive schedule seen
   * for the first time is due at once with `initialIntervalMs`. */
  declare(name: string, spec: Record<string, unknown>, initialIntervalMs: number | undefined): Promise<ScheduleRow>;
  /** A fixed schedule appended `tick`; `next` is its next tick (for stats). */
  ticked(name: string, tick: number, next: number | undefined): Promise<void>;
  /** An adaptive schedule's due run, taken by one process only: the tick, or undefined if it was
   * not due or another process took it. Until the run plans the next one, the next is
   * `fallbackMs` away (a run lost with its process does not stop the schedule). */
  takeDue(name: string, fallbackMs: number): Promise<number | undefined>;
  /** After an adaptive run: the next in `intervalMs` (from now); also records the run. */
  planned(name: string, intervalMs: number): Promise<void>;
  /** A run completed (fixed schedules with a handler). */
  ran(name: string): Promise<void>;
  /** How long until the adaptive schedule's next run (ms, <= 0: due), and its interval. */
  due(name: string): Promise<{ inMs: number | undefined; intervalMs: number | undefined }>;
  list(): Promise<ScheduleRow[]>;
}

export class MemoryScheduleState implements ScheduleState {
  readonly #rows = new Map<string, ScheduleRow>();

  async declare(name: string, spec: Record<string, unknown>, initialIntervalMs: number | undefined): Promise<ScheduleRow> {
    let row = this.#rows.get(name);
    if (!row) this.#rows.set(name, (row = { name, spec, lastTick: undefined, lastRunAt: undefined, nextRunAt: undefined, intervalMs: undefined }));
    row.spec = spec;
    if (initialIntervalMs !== undefined) {
      row.intervalMs ??= initialIntervalMs;
      row.nextRunAt ??= Date.now();
    }
    return { ...row };
  }

  async ticked(name: string, tick: number, next: number | undefined): Promise<void> {
    const row = this.#rows.get(name);
    if (!row) return;
    row.lastTick = Math.max(row.lastTick ?? tick, tick);
    row.nextRunAt = next;
  }

  async takeDue(name: string, fallbackMs: number): Promise<number | undefined> {
    const row = this.#rows.get(name);
    const now = Date.now();
    if (!row || row.nextRunAt === undefined || row.nextRunAt > now) return undefined;
    const tick = row.nextRunAt;
    row.lastTick = tick;
    row.nextRunAt = now + fallbackMs;
    return tick;
  }

  async planned(name: string, intervalMs: number): Promise<void> {
    const row = this.#rows.get(name);
    if (!row) return;
    row.intervalMs = intervalMs;
    row.lastRunAt = Date.now();
    row.nextRunAt = row.lastRunAt + intervalMs;
  }

  async ran(name: string): Promise<void> {
    const row = this.#rows.get(name);
    if (row) row.lastRunAt = Date.now();
  }

  async due(name: string): Promise<{ inMs: number | undefined; intervalMs: number | undefined }> {
    const row = this.#rows.get(name);
    return { inMs: row?.nextRunAt === undefined ? undefined : row.nextRunAt - Date.now(), intervalMs: row?.intervalMs };
  }

  async list(): Promise<ScheduleRow[]> {
    return [...this.#rows.values()].map((r) => ({ ...r }));
  }
}
