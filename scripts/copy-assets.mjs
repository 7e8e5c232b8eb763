// Copies non-TypeScript runtime assets next to the compiled server in dist/: the SQL migrations and
// the PGlite worker thread's script (plain JavaScript, loaded from a file by worker_threads).
import { cpSync, existsSync } from 'node:fs';

if (existsSync('server/sql')) cpSync('server/sql', 'dist/server/sql', { recursive: true });
cpSync('server/store/pglite-worker.js', 'dist/server/store/pglite-worker.js');
