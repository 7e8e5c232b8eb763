// A fete web server in a process of its own, for the two-process fanout test: started with
// `node --import tsx fanout-server-child.ts '{"url":...,"schema":...}'` over IPC (fork). It opens
// the PostgreSQL store, attaches the fanout to an HTTP server on an ephemeral port and reports
// `{ type: 'ready', port }`; then emits ticks on command (`emit`) and stops on `stop`.
import { createServer } from 'node:http';
import { createFete } from '../../server/index.js';
import { topics } from './topics.js';
import { listen } from '../support/http-server.js';

export interface ChildConfig {
  url: string;
  schema: string;
}

export type ChildCommand =
  /** Emit ticks n = from .. from+count-1 with `concurrency` calls in flight (fete.emit, and an
   * emitMany of three at every n divisible by 7); answered with the seqs appended. */
  | { type: 'emit'; from: number; count: number; concurrency: number }
  | { type: 'stop' };

export type ChildReply = { type: 'ready'; port: number; pid: number } | { type: 'emitted'; seqs: number[] } | { type: 'error'; message: string };

const config = JSON.parse(process.argv[2]!) as ChildConfig;
const say = (m: ChildReply) => process.send!(m);
process.on('unhandledRejection', (err) => {
  say({ type: 'error', message: String((err as Error)?.stack ?? err) });
  process.exit(1);
});

// The test's sockets are anonymous.
const fete = await createFete({ topics, store: config.url, schema: config.schema, roles: ['web'], security: { auth: 'anonymous' } });
const http = createServer();
// A long poll: events of the other process must arrive through NOTIFY and the log, not by luck.
fete.attach(http, { pollIntervalMs: 5000 });
const url = await listen(http);
say({ type: 'ready', port: Number(new URL(url).port), pid: process.pid });

/** Emits concurrently, so that this process's commits land out of seq order and interleave with
 * the other process's (gaps in the log that the tails must wait out, never skip). */
async function emit(from: number, count: number, concurrency: number): Promise<number[]> {
  const seqs: number[] = [];
  let next = from;
  const end = from + count;
  const worker = async () => {
    while (next < end) {
      const n = next;
      if (n % 7 === 0 && n + 3 <= end) {
        next += 3;
        const results = await fete.emitMany([0, 1, 2].map((k) => ({ topic: topics.tick, payload: { n: n + k } })));
        seqs.push(...results.map((r) => r.seq));
      } else {
        next++;
        seqs.push((await fete.emit(topics.tick, { n })).seq);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return seqs;
}

process.on('message', (m: ChildCommand) => {
  if (m.type === 'emit') void emit(m.from, m.count, m.concurrency).then((seqs) => say({ type: 'emitted', seqs }));
  else if (m.type === 'stop')
    void fete.stop().finally(() => {
      http.closeAllConnections();
      http.close(() => process.exit(0));
    });
});
