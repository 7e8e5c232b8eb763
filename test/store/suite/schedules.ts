// Store suite, part 7: schedules. Exactly one run per tick with three processes racing on one
// store, each catch-up policy after downtime, adaptive intervals driven by the handler's result,
// `{ topic, payload }` schedules, and what stats() says about them.
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../support/wait.js';
import { type Harness, topics } from './harness.js';

const HOUR = 3_600_000;

export function scheduleTests(h: Harness): void {
  describe('schedules', () => {
    it('three processes racing on one store run each tick exactly once', async () => {
      const first = await h.open();
      const others = [await h.open({}, first.db), await h.open({}, first.db)];
      const runs: Array<{ tick: number; process: number }> = [];
      for (const [process, f] of [first.fete, ...others.map((o) => o.fete)].entries())
        f.schedule('race', { everyMs: 50 }, (t) => void runs.push({ tick: t.tick.getTime(), process }), { catchUp: 'none' });
      await Promise.all([first.fete.start(), ...others.map((o) => o.fete.start())]);
      await waitFor(() => new Set(runs.map((r) => r.tick)).size >= 10, { what: 'ten ticks' });
      await Promise.all([first.fete.stop(), ...others.map((o) => o.fete.stop())]);
      const perTick = new Map<number, number>();
      for (const r of runs) perTick.set(r.tick, (perTick.get(r.tick) ?? 0) + 1);
      expect([...perTick.values()].every((n) => n === 1)).toBe(true);
      expect([...perTick.keys()].every((t) => t % 50 === 0)).toBe(true);
      // One event per tick (a tick appended just before stop may not have run yet).
      const [events] = await first.db.rows<{ n: string | number; ticks: string | number }>(
        `SELECT count(*) AS n, count(DISTINCT payload) AS ticks FROM ${first.db.tables.events} WHERE topic = '$schedule.race'`,
      );
      expect(Number(events!.n)).toBe(Number(events!.ticks));
      expect(Number(events!.n)).toBeGreaterThanOrEqual(perTick.size);
    });

    for (const [catchUp, expected] of [['none', 0], ['last', 1], ['all', 5]] as const)
      it(`after downtime, catchUp '${catchUp}' runs ${expected} of the 5 missed ticks`, async () => {
        const { fete, db } = await h.open();
        const ticks: number[] = [];
        fete.schedule('hourly', { everyMs: HOUR }, (t) => void ticks.push(t.tick.getTime()), { catchUp });
        // The store says the last tick was 5 hours of ticks ago: the process was down since.
        const current = Math.floor(Date.now() / HOUR) * HOUR;
        await db.q.query(`INSERT INTO ${db.tables.schedules} (name, spec, last_tick) VALUES ('hourly', '{}', to_timestamp($1::float8 / 1000))`, [current - 5 * HOUR]);
        await fete.start();
        await waitFor(async () => ((await fete.stats()).schedules ?? [])[0]?.nextRunAt === new Date(current + HOUR).toISOString(), { what: 'next tick planned' });
        await fete.waitIdle();
        const missed = [1, 2, 3, 4, 5].map((k) => current - 5 * HOUR + k * HOUR);
        expect(ticks.sort((a, b) => a - b)).toEqual(catchUp === 'all' ? missed : catchUp === 'last' ? [current] : []);
      });

    it('an adaptive schedule shrinks on work, grows on idle and failed runs, and snaps to min on high drift', async () => {
      const { fete, db } = await h.open();
      // Results of successive runs: a number is the records changed, 'fail' throws.
      const script: Array<number | 'fail'> = [3, 0, 0, 'fail', 0, 500, 0];
      const intervals: number[] = [];
      let run = 0;
      fete.schedule('sync', { minMs: 20, maxMs: 120, backoffFactor: 2, highDrift: 100 }, async () => {
        const [row] = await db.rows<{ interval_ms: number }>(`SELECT interval_ms FROM ${db.tables.schedules} WHERE name = 'sync'`);
        intervals.push(Number(row!.interval_ms));
        const step = script[run++];
        if (step === 'fail') throw new Error('sync failed');
        return step ?? 0;
      }, { retries: 0 });
      await fete.start();
      await waitFor(() => intervals.length >= script.length + 1, { what: 'all scripted runs' });
      // Interval before each run: min at first, then planned from the previous run's result.
      expect(intervals.slice(0, script.length + 1)).toEqual([20, 20, 40, 80, 120, 120, 20, 40]);
      const [stats] = (await fete.stats()).schedules!;
      expect(stats).toMatchObject({ name: 'sync', kind: 'adaptive', local: true });
      expect(stats!.lastRunAt).not.toBeNull();
      expect((await fete.deadLetters()).map((d) => d.lastError)).toEqual([expect.stringContaining('sync failed')]);
    });

    it('a { topic, payload } schedule emits one event per tick to that topic, listed in stats', async () => {
      const { fete } = await h.open();
      const got: string[] = [];
      fete.on(topics.audit, 'audit', (p) => void got.push(p.msg));
      fete.schedule('heartbeat', { everyMs: 40 }, { topic: topics.audit, payload: (tick) => ({ kind: 'tick', msg: String(tick.getTime()) }) });
      await fete.start();
      await waitFor(() => got.length >= 3, { what: 'three ticks' });
      expect(got.every((m) => Number(m) % 40 === 0)).toBe(true);
      const [s] = (await fete.stats()).schedules!;
      expect(s).toMatchObject({ name: 'heartbeat', kind: 'every', local: true, spec: { everyMs: 40 } });
      expect(Date.parse(s!.nextRunAt!)).toBeGreaterThan(Date.parse(s!.lastTick!));
      expect(() => fete.schedule('heartbeat', { everyMs: 40 }, () => 0)).toThrow(expect.objectContaining({ code: 'CONFLICT' }));
      expect(() => fete.schedule('bad cron', '* * *', () => 0)).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
      expect(() => fete.schedule('badcron', '61 * * * *', () => 0)).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
      expect(() => fete.schedule('tz', { cron: '0 9 * * *', timezone: 'Nowhere/Atlantis' }, () => 0)).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
    });
  });
}
