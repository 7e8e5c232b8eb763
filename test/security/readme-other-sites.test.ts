// The README's other-sites example (examples/quickstart/other-sites.ts), run as written: the listed
// shop origins reach both doors with the user's session cookie; any other site, and Origin: null,
// is refused 403 FORBIDDEN over HTTP and cannot open a socket.
import { createServer } from 'node:http';
import express from 'express';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi } from '../../examples/quickstart/other-sites.js';
import { closeHttp, listen } from '../support/http-server.js';

describe('examples/quickstart/other-sites.ts', () => {
  let fete: Awaited<ReturnType<typeof startApi>>;
  let http: ReturnType<typeof createServer>;
  let base: string;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    fete = await startApi(new Map([['s-ann', { id: 'ann' }]]), 'memory');
    http = createServer(express().use('/fete', fete.express()));
    fete.attach(http);
    base = await listen(http);
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await fete.stop();
    await closeHttp(http);
  });

  const stream = async (origin: string) => {
    const abort = new AbortController();
    const res = await fetch(`${base}/fete/stream?pattern=orders.*.status`, { headers: { origin, cookie: 'sid=s-ann', accept: 'text/event-stream' }, signal: abort.signal });
    const body = res.status === 200 ? undefined : ((await res.json()) as { error: { code: string } });
    abort.abort();
    return { status: res.status, code: body?.error.code };
  };
  const connect = (origin: string) =>
    new Promise<boolean>((resolve) => {
      const socket = io(`${base}/fete`, { transports: ['websocket'], reconnection: false, extraHeaders: { origin, cookie: 'sid=s-ann' } });
      sockets.push(socket);
      socket.on('connect', () => resolve(true));
      socket.on('connect_error', () => resolve(false));
    });

  it('the listed shop origins reach the HTTP stream and the socket with the session cookie', async () => {
    expect(await stream('https://shop.example')).toEqual({ status: 200, code: undefined });
    expect(await stream('https://eu.shop.example')).toEqual({ status: 200, code: undefined });
    expect(await connect('https://shop.example')).toBe(true);
    expect(await connect('https://eu.shop.example')).toBe(true);
  });

  it('another site and Origin: null are refused at both doors', async () => {
    for (const origin of ['https://evil.example', 'http://shop.example', 'null']) {
      expect(await stream(origin)).toEqual({ status: 403, code: 'FORBIDDEN' });
      expect(await connect(origin)).toBe(false);
    }
  });
});
