// `fete.follow({ tenant })`: server code reading the log for one tenant gets that tenant's events
// only, through the same follow() filter the browser doors use (log/follow.ts `visible`).
import { afterEach, describe, expect, it } from 'vitest';
import { createFete, type Fete } from '../../server/index.js';
import { topics } from './support/secure-server.js';

let fete: Fete<typeof topics, 'inline'> | undefined;
afterEach(async () => {
  await fete?.stop();
  fete = undefined;
});

describe('fete.follow with a tenant', () => {
  it("yields only that tenant's events, while a follow without a tenant sees them all", async () => {
    fete = await createFete({ topics, store: 'memory', dispatch: 'inline' });
    await fete.emit(topics.notice, { room: 'r', n: 1 }, { tenant: 'acme' });
    await fete.emit(topics.notice, { room: 'r', n: 2 }, { tenant: 'globex' });
    await fete.emit(topics.notice, { room: 'r', n: 3 });
    await fete.emit(topics.notice, { room: 'r', n: 4 }, { tenant: 'acme' });
    const read = async (tenant?: string): Promise<number[]> => {
      const abort = new AbortController();
      const seen: number[] = [];
      for await (const item of fete!.follow('notices.>', { from: 'earliest', signal: abort.signal, ...(tenant === undefined ? {} : { tenant }) })) {
        if (item.type !== 'events') continue;
        seen.push(...item.events.map((e) => (e.payload as { n: number }).n));
        if (item.seq >= 4) break; // the whole log was read
      }
      abort.abort();
      return seen;
    };
    expect(await read('acme')).toEqual([1, 4]);
    expect(await read('')).toEqual([3]);
    expect(await read()).toEqual([1, 2, 3, 4]);
  });
});
