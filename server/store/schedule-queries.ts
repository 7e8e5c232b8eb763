// The schedules table (005_work_over_time.sql): one row per schedule name, shared by every
// process that declares it. Ticks themselves are events (deduplicated by a derived id), so these
// rows are bookkeeping: what was ticked last (catch-up after downtime), what runs next (stats),
// and for adaptive schedules the one coordination point: `takeDue` moves `next_run_at` forward
// in one UPDATE, so exactly one process takes each due run.
import type { ScheduleRow, ScheduleState } from '../schedule/schedule-state.js';
import type { Queryable } from './driver.js';
import type { Tables } from './tables.js';

type Row = {
  name: string;
  spec: Record<string, unknown> | string;
  last_tick: Date | string | null;
  last_run_at: Date | string | null;
  next_run_at: Date | string | null;
  interval_ms: number | null;
};

const ms = (v: Date | string | null): number | undefined => (v === null ? undefined : new Date(v).getTime());

function toRow(r: Row): ScheduleRow {
  return {
    name: r.name,
    spec: typeof r.spec === 'string' ? (JSON.parse(r.spec) as Record<string, unknown>) : r.spec,
    lastTick: ms(r.last_tick),
    lastRunAt: ms(r.last_run_at),
    nextRunAt: ms(r.next_run_at),
    intervalMs: r.interval_ms === null ? undefined : Number(r.interval_ms),
  };
}

export class StoreScheduleState implements ScheduleState {
  constructor(
    private readonly q: Queryable,
    private readonly t: Tables,
  ) {}

  async declare(name: string, spec: Record<string, unknown>, initialIntervalMs: number | undefined): Promise<ScheduleRow> {
    const res = await this.q.query<Row>(
      `INSERT INTO ${this.t.schedules} AS s (name, spec, interval_ms, next_run_at)
       VALUES ($1, $2::jsonb, $3::float8, CASE WHEN $3::float8 IS NULL THEN NULL ELSE now() END)
       ON CONFLICT (name) DO UPDATE SET spec = EXCLUDED.spec, updated_at = now(),
         interval_ms = CASE WHEN $3::float8 IS NULL THEN s.interval_ms ELSE coalesce(s.interval_ms, $3::float8) END,
         next_run_at = CASE WHEN $3::float8 IS NULL THEN s.next_run_at ELSE coalesce(s.next_run_at, now()) END
       RETURNING *`,
      [name, JSON.stringify(spec), initialIntervalMs ?? null],
    );
    return toRow(res.rows[0]!);
  }

  async ticked(name: string, tick: number, next: number | undefined): Promise<void> {
    await this.q.query(
      `UPDATE ${this.t.schedules}
       SET last_tick = greatest(coalesce(last_tick, to_timestamp($2::float8 / 1000)), to_timestamp($2::float8 / 1000)),
           next_run_at = to_timestamp($3::float8 / 1000), updated_at = now()
       WHERE name = $1`,
      [name, tick, next ?? null],
    );
  }

  async takeDue(name: string, fallbackMs: number): Promise<number | undefined> {
    // The WHERE re-checks under the row lock: of processes racing here, one updates, the others
    // find next_run_at already moved into the future and update nothing.
    const res = await this.q.query<{ tick: Date | string }>(
      `UPDATE ${this.t.schedules} s
       SET last_tick = s.next_run_at, next_run_at = now() + $2::float8 * interval '1 millisecond', updated_at = now()
       FROM (SELECT next_run_at AS tick FROM ${this.t.schedules} WHERE name = $1) old
       WHERE s.name = $1 AND s.next_run_at IS NOT NULL AND s.next_run_at <= now()
       RETURNING old.tick`,
      [name, fallbackMs],
    );
    return ms(res.rows[0]?.tick ?? null);
  }

  async planned(name: string, intervalMs: number): Promise<void> {
    await this.q.query(
      `UPDATE ${this.t.schedules}
       SET interval_ms = $2::float8, last_run_at = now(), next_run_at = now() + $2::float8 * interval '1 millisecond', updated_at = now()
       WHERE name = $1`,
      [name, intervalMs],
    );
  }

  async ran(name: string): Promise<void> {
    await this.q.query(`UPDATE ${this.t.schedules} SET last_run_at = now() WHERE name = $1`, [name]);
  }

  async due(name: string): Promise<{ inMs: number | undefined; intervalMs: number | undefined }> {
    const res = await this.q.query<{ in_ms: number | null; interval_ms: number | null }>(
      `SELECT (extract(epoch FROM next_run_at - now()) * 1000)::float8 AS in_ms, interval_ms FROM ${this.t.schedules} WHERE name = $1`,
      [name],
    );
    const r = res.rows[0];
    return { inMs: r?.in_ms == null ? undefined : Number(r.in_ms), intervalMs: r?.interval_ms == null ? undefined : Number(r.interval_ms) };
  }

  async list(): Promise<ScheduleRow[]> {
    const res = await this.q.query<Row>(`SELECT * FROM ${this.t.schedules} ORDER BY name`);
    return res.rows.map(toRow);
  }
}
