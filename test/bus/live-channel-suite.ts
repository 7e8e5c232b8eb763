// The LiveChannel contract (server/bus/live-channel.ts) as one suite, run against every transport
// (live-channel.test.ts: local and PostgreSQL; a NATS transport adds its own `describeLiveChannel`
// call). A "process" is one channel instance: two instances on one transport are two processes.
import { describe, expect, it } from 'vitest';
import type { LiveChannel, LiveMessage } from '../../server/bus/live-channel.js';
import { FeteError } from '../../shared/index.js';
import { waitFor } from '../support/wait.js';

export interface LiveChannelHarness {
  /** A channel of one more process of the same deployment (closed by the suite). */
  open(): Promise<LiveChannel>;
  /** Whether messages reach other processes (false for the local transport). */
  crossProcess: boolean;
  /** Makes `channel` lose its transport connection (it must come back and call onLost). */
  loseConnection?(channel: LiveChannel): Promise<void>;
}

const message = (subject: string, data: unknown = { n: 1 }, kind: LiveMessage['kind'] = 'volatile'): LiveMessage => ({ kind, tenant: 't1', subject, data });

const until = (check: () => boolean, what: string) => waitFor(check, { what, intervalMs: 5 });

export function describeLiveChannel(name: string, h: LiveChannelHarness): void {
  describe(`LiveChannel contract: ${name}`, () => {
    const opened: LiveChannel[] = [];
    const open = async () => {
      const c = await h.open();
      opened.push(c);
      return c;
    };
    const closeAll = () => Promise.all(opened.splice(0).map((c) => c.close()));

    it("delivers to this process's handlers synchronously inside publish, by kind, and only once", async () => {
      try {
        const a = await open();
        const got: LiveMessage[] = [];
        const presence: LiveMessage[] = [];
        a.on('volatile', (m) => void got.push(m));
        a.on('presence', (m) => void presence.push(m));
        const p = a.publish(message('rooms.r.cursor'));
        expect(got).toHaveLength(1); // before publish resolved
        await p;
        await new Promise((r) => setTimeout(r, 100)); // a transport must not echo it back
        expect(got).toEqual([message('rooms.r.cursor')]);
        expect(presence).toEqual([]);
      } finally {
        await closeAll();
      }
    });

    it('an unsubscribed handler gets nothing more; a throwing handler does not stop the others', async () => {
      try {
        const a = await open();
        const got: string[] = [];
        const off = a.on('latest', (m) => void got.push(`first ${m.subject}`));
        a.on('latest', () => {
          throw new Error('a broken handler');
        });
        a.on('latest', (m) => void got.push(`third ${m.subject}`));
        await a.publish(message('prices.A', { v: 1 }, 'latest'));
        off();
        await a.publish(message('prices.B', { v: 2 }, 'latest'));
        expect(got).toEqual(['first prices.A', 'third prices.A', 'third prices.B']);
      } finally {
        await closeAll();
      }
    });

    it.runIf(h.crossProcess)('reaches the handlers of other processes once, with its fields intact', async () => {
      try {
        const a = await open();
        const b = await open();
        const got: LiveMessage[] = [];
        b.on('latest', (m) => void got.push(m));
        const data = { json: { id: 'x', payload: { price: 1.5, tags: ['a'] } }, meta: { values: {} } };
        await a.publish(message('prices.A', data, 'latest'));
        await until(() => got.length === 1, 'the message in the other process');
        await new Promise((r) => setTimeout(r, 100));
        expect(got).toEqual([message('prices.A', data, 'latest')]);
      } finally {
        await closeAll();
      }
    });

    it.runIf(h.crossProcess)('refuses a message over maxMessageBytes with LIVE_TOO_LARGE, delivering it nowhere', async () => {
      try {
        const a = await open();
        const b = await open();
        expect(a.maxMessageBytes).toBeGreaterThan(0);
        const here: LiveMessage[] = [];
        const there: LiveMessage[] = [];
        a.on('volatile', (m) => void here.push(m));
        b.on('volatile', (m) => void there.push(m));
        const err = await a.publish(message('rooms.r.cursor', { pad: 'x'.repeat(a.maxMessageBytes!) })).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(FeteError);
        expect(err).toMatchObject({ code: 'LIVE_TOO_LARGE' });
        await a.publish(message('rooms.r.cursor', { n: 2 }));
        await until(() => there.length === 1, 'the next message');
        expect(here.map((m) => m.data)).toEqual([{ n: 2 }]);
        expect(there.map((m) => m.data)).toEqual([{ n: 2 }]);
      } finally {
        await closeAll();
      }
    });

    it('after close, publishes reach local handlers only', async () => {
      try {
        const a = await open();
        const b = h.crossProcess ? await open() : undefined;
        const here: LiveMessage[] = [];
        const there: LiveMessage[] = [];
        a.on('volatile', (m) => void here.push(m));
        b?.on('volatile', (m) => void there.push(m));
        await a.close();
        await a.publish(message('rooms.r.cursor'));
        await new Promise((r) => setTimeout(r, 150));
        expect(here).toHaveLength(1);
        expect(there).toEqual([]);
      } finally {
        await closeAll();
      }
    });

    it.runIf(h.loseConnection !== undefined)('reports a lost connection through onLost once it is back, and delivers again', async () => {
      try {
        const a = await open();
        const b = await open();
        let lost = 0;
        b.onLost(() => void lost++);
        const got: LiveMessage[] = [];
        b.on('volatile', (m) => void got.push(m));
        await h.loseConnection!(b);
        await until(() => lost > 0, 'onLost');
        await a.publish(message('rooms.r.cursor', { n: 3 }));
        await until(() => got.length === 1, 'a message after the reconnect');
      } finally {
        await closeAll();
      }
    });
  });
}
