// Where the PGlite template lives: a data directory made once by initdb (plus its tarball, for
// in-memory stores), copied into every fresh data directory instead of running initdb again.
// initdb is most of a first start (measured here: 7.3 s fresh vs 0.5 s to open an existing
// directory; a template copy and open: 0.7 s). The worker (pglite-worker.js) makes and uses it;
// this file only decides where it is.
//
// Keyed by PGlite's version (initdb's output belongs to one PGlite build). Kept in the OS temp
// directory under a directory of this user (mode 0700, checked to be ours): a template is the seed
// of every new database, so one planted by another user of a shared machine must never be used.
// `FETE_CACHE_DIR` puts it elsewhere (CI caches, a fresh-clone benchmark). The OS may clean the
// temp directory; the next fresh start then makes the template again.
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import createDebug from 'debug';

const debug = createDebug('fete:store');

export interface PGliteTemplate {
  /** The directory renamed into place once complete: holds `data/` and `data.tar`. */
  root: string;
  /** A data directory as initdb left it. */
  dir: string;
  /** The same directory as a tarball (PGlite's `loadDataDir`, for in-memory stores). */
  tar: string;
}

let version: string | undefined;

function pgliteVersion(): string {
  if (version) return version;
  const require = createRequire(import.meta.url);
  // The package's main file is <pkg>/dist/index.cjs; its package.json is two levels up.
  const pkg = join(dirname(require.resolve('@electric-sql/pglite')), '..', 'package.json');
  version = (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
  return version;
}

/** The template of this PGlite version, or undefined when no safe cache directory is available
 * (then a fresh directory is made by initdb, as PGlite does by itself). */
export function pgliteTemplate(): PGliteTemplate | undefined {
  try {
    const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
    const base = process.env.FETE_CACHE_DIR ?? join(tmpdir(), `fete-cache-${uid ?? 'user'}`);
    mkdirSync(base, { recursive: true, mode: 0o700 });
    const st = statSync(base);
    if (uid !== undefined && process.env.FETE_CACHE_DIR === undefined && (st.uid !== uid || (st.mode & 0o022) !== 0)) {
      debug('not using the PGlite template: %s is not owned by this user or is writable by others', base);
      return undefined;
    }
    const root = join(base, `pglite-${pgliteVersion()}`);
    return { root, dir: join(root, 'data'), tar: join(root, 'data.tar') };
  } catch (err) {
    debug('not using the PGlite template: %s', (err as Error).message);
    return undefined;
  }
}
