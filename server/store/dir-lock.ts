// One process per PGlite data directory. PGlite does not lock its directory, and two processes
// writing the same files corrupt the store, so fete takes a lock file next to the directory
// (`<dataDir>.lock`, holding the owner's pid) before opening it.
//
// The file is created exclusively (`wx`). If it exists and its pid is alive, the open fails with
// STORE_LOCKED; if that pid is dead (a crash or SIGKILL left it), the lock is stale and is taken
// over. Narrow hole, accepted: two processes that find the same stale lock at the same instant may
// both take it; and a dead owner's pid reused by an unrelated process reads as alive (the message
// says which file to delete). The lock lives beside the directory, not in it, because PGlite runs
// initdb on a directory without PG_VERSION and initdb wants it empty.
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import createDebug from 'debug';
import { FeteError } from '../../shared/index.js';

const debug = createDebug('fete:store');

export interface DirLock {
  readonly path: string;
  release(): Promise<void>;
}

// Paths this process holds: a lock file with our own pid that is not in here was left by an
// earlier process that had the same pid (common for pid 1 in containers), so it is stale.
const heldHere = new Set<string>();

function isAlive(pid: number, path: string): boolean {
  if (pid === process.pid) return heldHere.has(path);
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').split('\n')[0] ?? '', 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Takes the lock of `dataDir` or throws STORE_LOCKED. */
export async function lockDataDir(dataDir: string): Promise<DirLock> {
  const path = `${resolve(dataDir)}.lock`;
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n${new Date().toISOString()}\n`, { flag: 'wx' });
      return held(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw FeteError.from(err, 'STORE_UNAVAILABLE');
    }
    const owner = readOwner(path);
    if (owner !== undefined && isAlive(owner, path)) {
      throw new FeteError(
        'STORE_LOCKED',
        `the PGlite store at ${resolve(dataDir)} is in use by process ${owner}${owner === process.pid ? ' (this process: open it once and share the fete instance)' : ''}; ` +
          `only one process may open an embedded store (use PostgreSQL to share one store between processes). ` +
          `If no such process runs, delete ${path}.`,
        { details: { dataDir: resolve(dataDir), lockFile: path, pid: owner } },
      );
    }
    // Stale (dead owner) or unreadable (a writer between create and write: retry once it settles).
    if (owner !== undefined) {
      debug('taking over stale lock %s of dead process %d', path, owner);
      try {
        unlinkSync(path);
      } catch {
        // someone else removed it first: try again
      }
    } else {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new FeteError('STORE_LOCKED', `could not take the lock ${path}`, { details: { lockFile: path } });
}

function held(path: string): DirLock {
  heldHere.add(path);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    heldHere.delete(path);
    process.off('exit', release);
    try {
      if (readOwner(path) === process.pid) unlinkSync(path);
    } catch {
      // already gone
    }
  };
  // A normal exit without close() still frees the directory; a SIGKILL leaves a stale lock.
  process.on('exit', release);
  return { path, release: async () => release() };
}
