// A Socket.IO handshake whose auth hook throws a hostile value (issue 9 item 5, the hook
// wrappers): refused with UNAUTHORIZED, never an unhandled rejection, and others still connect.
import { afterEach, describe, expect, it } from 'vitest';
import { HOSTILE_VALUES } from '../support/hostile-values.js';
import { RawClient, sharePGlite, startServer, type TestServer } from './support.js';

sharePGlite();
const servers: TestServer[] = [];
const raws: RawClient[] = [];
afterEach(async () => {
  for (const c of raws.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('handshake auth that throws hostile values', () => {
  it('every hostile throw is refused with UNAUTHORIZED and the server keeps accepting others', async () => {
    const s = await startServer({
      auth: ({ credentials: a }) => {
        const v = HOSTILE_VALUES.find((h) => h.name === a.throw);
        if (v) throw v.make();
        return { id: 'alice' };
      },
    });
    servers.push(s);
    for (const v of HOSTILE_VALUES) {
      const c = new RawClient(s.url, { throw: v.name });
      raws.push(c);
      expect({ value: v.name, refused: (await c.refused()).data }).toEqual({ value: v.name, refused: { code: 'UNAUTHORIZED' } });
    }
    const ok = new RawClient(s.url, {});
    raws.push(ok);
    await ok.connected();
  });
});
