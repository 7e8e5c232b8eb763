// The SSE door's side of test/realtime/slow-reader-latest.test.ts: an SSE reader that stops
// reading must not make the server buffer every change of a latest-value topic for it. Worse than
// on Socket.IO, nothing ends such a stream (no heartbeat answer is expected), so the buffer grows
// for as long as the peer keeps the TCP connection open: measured with a raw TCP reader that
// never reads, 40,000 changes of a small value with 1 KB of headers grew the heap by 61 MB, and
// it stayed allocated a minute later.
//
// The stream holds latest values while its response waits for a drain, the newest per subject
// (server/fanout/held-latest.ts, as socket-session.ts does), and writes them at the next 'drain'.
import { createServer, type Server as HttpServer } from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { createFete, type Fete } from '../../server/index.js';
import { liveTopics as topics, type LiveTopics } from '../realtime/live-topics.js';
import { until } from '../realtime/support.js';
import { closeHttp } from '../support/http-server.js';

const opened: Array<{ fete: Fete<LiveTopics>; http: HttpServer; close(): void }> = [];
afterEach(async () => {
  for (const o of opened.splice(0)) {
    o.close();
    await o.fete.stop({ drain: false });
    await closeHttp(o.http);
  }
});

const SUBJECTS = 4;
const CHANGES = 2000;
/** About 30 KB of headers per value, so that the kernel's socket buffers fill after a few hundred. */
const PAD = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`pad-${i}`, 'x'.repeat(1000)]));

/** A fete serving SSE, and a raw TCP reader of `GET /fete/stream?pattern=prices.*` that has
 * started (`tcp.pause()` stops reading); `text()` is what it has read. */
async function stalledReader() {
  const fete = await createFete({ topics, store: 'memory', logger: false, security: { auth: 'anonymous' } });
  const router = fete.express();
  const app = express();
  app.use('/fete', router);
  const http = createServer(app);
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const port = (http.address() as AddressInfo).port;
  const tcp = net.connect(port, '127.0.0.1');
  opened.push({ fete, http, close: () => (tcp.destroy(), router.close()) });
  await new Promise((r) => tcp.once('connect', r));
  let read = '';
  tcp.on('data', (d: Buffer) => (read += d.toString('utf8')));
  tcp.write(`GET /fete/stream?pattern=prices.*&from=latest HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
  const text = () => read;
  await until(() => text().includes(': ok'), 'the stream started');
  return { fete, tcp, text };
}

describe('an SSE reader that stops reading latest values', () => {
  it('is sent the newest value of each subject once it reads again, not every change it missed', async () => {
    const { fete, tcp, text } = await stalledReader();

    // The reader stops reading.
    tcp.pause();
    let last = 0;
    for (let i = 0; i < CHANGES; i++) {
      const { version } = await fete.emit(topics.price, { symbol: `s${i % SUBJECTS}`, price: i }, { headers: PAD });
      last = Math.max(last, version!);
    }
    tcp.resume();

    const frames = () => text().split('\n\n').filter((f) => f.includes('event: prices.{symbol}'));
    // Every subject's newest version arrives...
    await until(() => frames().filter((f) => f.includes(`"version":${last}`)).length > 0, 'the newest value');
    // ...without the changes that went stale while it was not reading (a few hundred were taken
    // by the kernel's buffers before the server could see the reader fall behind).
    expect(frames().length).toBeLessThan(CHANGES / 2);
  }, 120_000);
});

describe('an SSE reader that stops reading while latest values are cleared', () => {
  // Found by probe2: SseStream.cleared wrote every `event: cleared` frame at once, even while the
  // response waited for a drain, so a stalled reader buffered one frame per clear or expiry without
  // bound, and nothing ends an SSE stream. Removals are now held with the values, the newest per
  // subject (server/fanout/held-latest.ts), and written at the drain.
  it('is sent at most the newest removal of each subject once it reads again, not every clear it missed', async () => {
    const { fete, tcp, text } = await stalledReader();

    // The reader stops reading; large values fill the kernel's buffers, so the response waits.
    tcp.pause();
    for (let i = 0; i < 500; i++) await fete.emit(topics.price, { symbol: 'filler', price: i }, { headers: PAD });
    // Then the subjects are set and cleared over and over.
    let last = 0;
    for (let i = 0; i < CHANGES; i++) {
      await fete.emit(topics.price, { symbol: `s${i % SUBJECTS}`, price: i });
      const { version } = await fete.clearLatest(topics.price, { symbol: `s${i % SUBJECTS}` });
      last = Math.max(last, version!);
    }
    tcp.resume();

    const removals = () => text().split('\n\n').filter((f) => f.includes('event: cleared'));
    await until(() => removals().some((f) => f.includes(`"version":${last}`)), 'the newest removal');
    // Each subject's newest removal is all a reader that was away needs.
    expect(removals().length).toBeLessThan(CHANGES / 2);
  }, 120_000);
});
