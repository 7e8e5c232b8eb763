// `npm start`: builds what it needs and starts the playground server on the embedded store.
// The playground arrives with its own issue; until it exists this says so and exits 0.
import { existsSync } from 'node:fs';

if (!existsSync(new URL('../playground/server.ts', import.meta.url))) {
  process.stdout.write('fete: playground not built yet (it lands with the playground issue). Nothing to start.\n');
  process.exit(0);
}
await import('../playground/start.mjs');
