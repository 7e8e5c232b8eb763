// A fete in a process of its own that emits volatile and latest events on command, for the
// cross-process tests of live-topics.test.ts: `node --import tsx live-emitter-child.ts
// '{"url":...,"schema":...}'` over IPC (fork). Reports `ready`, answers each `emit` with the
// results, and stops on `stop`.
import { createFete } from '../../server/index.js';
import { liveTopics } from './live-topics.js';

export interface LiveChildConfig {
  url: string;
  schema: string;
}

export type LiveChildCommand =
  /** Emits the items one after another (in order), each with its tenant. */
  | { type: 'emit'; items: Array<{ topic: 'price' | 'cursor'; payload: Record<string, unknown>; tenant?: string }> }
  | { type: 'stop' };

export type LiveChildReply = { type: 'ready'; pid: number } | { type: 'emitted'; versions: Array<number | null> } | { type: 'error'; message: string };

const config = JSON.parse(process.argv[2]!) as LiveChildConfig;
const say = (m: LiveChildReply) => process.send!(m);
process.on('unhandledRejection', (err) => {
  say({ type: 'error', message: String((err as Error)?.stack ?? err) });
  process.exit(1);
});

const fete = await createFete({ topics: liveTopics, store: config.url, schema: config.schema, roles: ['web'], security: { auth: 'anonymous' } });
say({ type: 'ready', pid: process.pid });

process.on('message', (m: LiveChildCommand) => {
  if (m.type === 'emit')
    void (async () => {
      const versions: Array<number | null> = [];
      for (const item of m.items) {
        const r = await fete.emit(liveTopics[item.topic], item.payload as never, item.tenant === undefined ? {} : { tenant: item.tenant });
        versions.push('version' in r ? (r.version ?? null) : null);
      }
      say({ type: 'emitted', versions });
    })().catch((err: Error) => say({ type: 'error', message: err.stack ?? err.message }));
  else if (m.type === 'stop') void fete.stop().finally(() => process.exit(0));
});
