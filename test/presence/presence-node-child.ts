// A fete web process for the presence expiry test: `node --import tsx presence-node-child.ts
// '{"url":...,"schema":...}'` over IPC. It starts a presence server (fixtures.ts) and reports
// `{ type: 'ready', port }`; the test connects sockets to it and then kills it with SIGKILL, so
// that nothing is cleaned up: its rows must expire and another process announce the leaves.
import { startPresenceServer } from './fixtures.js';

export interface NodeConfig {
  url: string;
  schema: string;
}
export type NodeReply = { type: 'ready'; port: number } | { type: 'error'; message: string };

const config = JSON.parse(process.argv[2]!) as NodeConfig;
const say = (m: NodeReply) => process.send!(m);
process.on('unhandledRejection', (err) => {
  say({ type: 'error', message: String((err as Error)?.stack ?? err) });
  process.exit(1);
});
const server = await startPresenceServer({ store: config.url, schema: config.schema, roles: ['web'] });
say({ type: 'ready', port: Number(new URL(server.url).port) });
