// The playground lets every visitor in (auth: 'anonymous', the inspector with stacks, retries), so
// by default it listens on this machine only; HOST (the `host` option) opens it on purpose.
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startPlayground } from '../../playground/server/app.js';

describe('playground listening', () => {
  it('listens on the loopback interface unless a host is given', async () => {
    const playground = await startPlayground({ port: 0, store: 'memory', dev: true });
    try {
      expect((playground.http.address() as AddressInfo).address).toBe('127.0.0.1');
      const res = await fetch(`${playground.url}/fete/health`);
      expect(res.status).toBe(200);
    } finally {
      await playground.close();
    }
  }, 60_000);
});
