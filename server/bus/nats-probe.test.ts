// The probe the bus runs before it lets the NATS client connect (nats-probe.ts): which servers it
// reads from the options, what it calls an answer, and that it leaves no socket open.
import { type Server, type Socket, createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { natsAddresses, probeNats } from './nats-probe.js';

describe('natsAddresses', () => {
  it('reads every server form the NATS client takes, with its default port and host', () => {
    expect(natsAddresses({ servers: 'nats://h1:4223' })).toEqual([{ host: 'h1', port: 4223 }]);
    expect(natsAddresses({ servers: ['h2:80', 'tls://h3', 'h4', '[::1]:4225'] })).toEqual([
      { host: 'h2', port: 80 },
      { host: 'h3', port: 4222 },
      { host: 'h4', port: 4222 },
      { host: '::1', port: 4225 },
    ]);
    expect(natsAddresses({})).toEqual([{ host: '127.0.0.1', port: 4222 }]);
    expect(natsAddresses({ port: 4300 })).toEqual([{ host: '127.0.0.1', port: 4300 }]);
  });

  it('gives up on a server it cannot read (the NATS client then judges the options)', () => {
    expect(natsAddresses({ servers: 'not a url::' })).toBeUndefined();
  });
});

describe('probeNats', () => {
  const servers: Server[] = [];
  const open = new Set<Socket>();
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise<void>((r) => s.close(() => r()));
  });
  /** A local server that runs `onConnection` for each connection and counts those still open. */
  async function serve(onConnection: (s: Socket) => void): Promise<number> {
    const server = createServer((s) => {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => undefined);
      onConnection(s);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return (server.address() as { port: number }).port;
  }
  const closedPort = async () => {
    const port = await serve(() => undefined);
    await new Promise<void>((r) => servers.pop()!.close(() => r()));
    return port;
  };
  const settled = async () => {
    for (let i = 0; i < 200 && open.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
    return open.size;
  };

  it("answers when a server sends NATS's INFO, and closes its socket", async () => {
    const port = await serve((s) => s.write('INFO {"server_id":"x"}\r\n'));
    expect(await probeNats([{ host: '127.0.0.1', port }], 5000)).toEqual({ outcome: 'answered' });
    expect(await settled()).toBe(0);
  });

  it('is silent when a server accepts and never answers, and closes its socket', async () => {
    const port = await serve(() => undefined);
    expect(await probeNats([{ host: '127.0.0.1', port }], 200)).toEqual({ outcome: 'silent' });
    expect(await settled()).toBe(0);
  });

  it('fails with the first error when every server refuses, or speaks something other than NATS', async () => {
    const refused = await probeNats([{ host: '127.0.0.1', port: await closedPort() }], 5000);
    expect(refused).toMatchObject({ outcome: 'failed', error: { code: 'ECONNREFUSED' } });
    const http = await serve((s) => s.write('HTTP/1.1 400 Bad Request\r\n\r\n'));
    const other = await probeNats([{ host: '127.0.0.1', port: http }], 5000);
    expect(other.outcome).toBe('failed');
    expect(String((other as { error: Error }).error.message)).toContain('not a NATS server');
  });

  it('answers when one of several servers does, the others refusing or silent', async () => {
    const silent = await serve(() => undefined);
    const nats = await serve((s) => s.write('INFO {}\r\n'));
    const addresses = [{ host: '127.0.0.1', port: await closedPort() }, { host: '127.0.0.1', port: silent }, { host: '127.0.0.1', port: nats }];
    expect(await probeNats(addresses, 5000)).toEqual({ outcome: 'answered' });
    expect(await settled()).toBe(0);
  });

  it('for a TLS-first server, an accepted connection is an answer', async () => {
    const port = await serve(() => undefined);
    expect(await probeNats([{ host: '127.0.0.1', port }], 5000, false)).toEqual({ outcome: 'answered' });
  });
});
