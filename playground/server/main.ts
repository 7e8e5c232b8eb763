// The playground's process: reads the environment, starts the server, prints its URL, and stops
// cleanly on Ctrl-C. Run by `npm start` (built page) and `npm run dev` (Vite, hot reload).
//   PORT               port to listen on (default 3000; 0 picks a free one)
//   HOST               interface to listen on (default 127.0.0.1, this machine only; 0.0.0.0: the network)
//   FETE_DATABASE_URL  a postgres:// URL: use PostgreSQL instead of the embedded store
//   FETE_DATA_DIR      the embedded store's directory (default ./.fete/data)
import { startPlayground } from './app.js';

const env = process.env;
const port = env.PORT === undefined || env.PORT === '' ? 3000 : Number(env.PORT);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`fete playground: PORT must be a port number, got ${JSON.stringify(env.PORT)}\n`);
  process.exit(2);
}
const dataDir = env.FETE_DATA_DIR || './.fete/data';
const store = env.FETE_DATABASE_URL || { pglite: dataDir };
const where = env.FETE_DATABASE_URL ? 'PostgreSQL (FETE_DATABASE_URL)' : `the embedded store in ${dataDir}`;

const playground = await startPlayground({ port, store, dev: process.argv.includes('--dev'), ...(env.HOST ? { host: env.HOST } : {}) });
process.stdout.write(`fete playground on ${where}\n  ➜ ${playground.url}\n`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    process.stdout.write('stopping…\n');
    playground.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`${String(err)}\n`);
        process.exit(1);
      },
    );
  });
}
