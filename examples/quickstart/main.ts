// main.ts: the process. Starts the server and stops it cleanly on Ctrl-C or SIGTERM.
import { startServer } from './server.js';

const server = await startServer(Number(process.env.PORT ?? 3000));
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => void server.stop().then(() => process.exit(0)));
