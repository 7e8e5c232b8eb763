// A Socket.IO handshake whose auth hook throws a hostile value (issue 9 item 5, the hook
// wrappers): refused with UNAUTHORIZED, never an unhandled rejection, and others still connect.
import { describe, expect, it } from 'vitest';
import { HOSTILE_VALUES } from '../support/hostile-values.js';
import { RawClient, sharePGlite, startServer, type TestServer } from './support.js';
import { closedAfterEach } from '../support/closed-after-each.js';

sharePGlite();
const servers = closedAfterEach<TestServer>();
const raws = closedAfterEach<RawClient>();

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
