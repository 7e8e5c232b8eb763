// Copies non-TypeScript runtime assets (SQL migrations) next to the compiled server in dist/.
import { cpSync, existsSync } from 'node:fs';

if (existsSync('server/sql')) cpSync('server/sql', 'dist/server/sql', { recursive: true });
