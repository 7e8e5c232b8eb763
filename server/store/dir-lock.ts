// One process per PGlite data directory. PGlite does not lock its directory, and two processes
// writing the same files corrupt the store, so fete takes a lock file next to the directory
// (`<dataDir>.lock`) before opening it. The lock lives beside the directory, not in it, because
// PGlite runs initdb on a directory without PG_VERSION and initdb wants it empty.
//
// The file names its owner: line 1 the pid (read by tests and operators), then when it was taken,
// the host and the command. It is written to a temporary file first and put in place with link(),
// which fails if the lock exists: a lock file is never seen empty or half-written, so an empty or
// unreadable one was left by something else (an older fete that crashed between create and write,
// a full disk, a hand-made file) and has no owner.
//
// Take-over. A lock whose owner is gone (dead pid; our own pid while this process does not hold it,
// as for pid 1 in a container restarted on the same volume; empty; unreadable) is taken over.
// Deciding "stale", removing it and linking our own must not interleave with another process doing
// the same, or both could end up believing they hold it (A removes the stale file and links its own;
// B, which judged the old file stale a moment earlier, removes A's). So take-overs are serialised
// by a second, short-lived lock: `mkdir <lock>.takeover` (atomic), and the staleness is judged again
// under it. A process that finds a fresh lock in place of the stale one gets STORE_LOCKED. Holes
// accepted: a take-over lock left by a process killed inside that window of a few milliseconds is
// removed after TAKEOVER_STALE_MS, and two processes doing that at the same instant could race; a
// dead owner's pid reused by an unrelated process reads as alive (the message says which file to
// delete); a lock written on another host (a shared volume) is never taken over, since its pid
// cannot be checked from here.
import { linkSync, mkdirSync, readFileSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import createDebug from 'debug';
import { describeThrown } from '../../shared/describe-thrown.js';
import { FeteError } from '../../shared/index.js';

const debug = createDebug('fete:store');

/** A take-over lock older than this was left by a process that died during a take-over. */
const TAKEOVER_STALE_MS = 5000;
/** Rounds of (create, else judge and take over) before giving up; each round ends with a wait
 * only when another process is busy taking over. */
const ROUNDS = 50;

export interface DirLock {
  readonly path: string;
  release(): Promise<void>;
}

/** Who holds a lock file, as written in it. */
interface Owner {
  pid: number;
  since?: string;
  host?: string;
  command?: string;
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

/** The owner written in the file; undefined when it is empty or unreadable; null when it is gone. */
function readOwner(path: string): Owner | undefined | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? null : undefined;
  }
  const [pidLine, since, host, command] = text.split('\n');
  const pid = /^\d+$/.test(pidLine ?? '') ? Number(pidLine) : Number.NaN;
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  return { pid, since: since || undefined, host: host || undefined, command: command || undefined };
}

function ownerText(o: Owner): string {
  const parts = [`process ${o.pid}`];
  if (o.host && o.host !== hostname()) parts.push(`on host ${o.host}`);
  if (o.since) parts.push(`since ${o.since}`);
  if (o.command) parts.push(`(${o.command})`);
  return parts.join(' ');
}

/** The owner when it still holds the lock; undefined when the lock has no live owner. */
function liveOwner(path: string, owner: Owner | undefined): Owner | undefined {
  if (owner === undefined) return undefined;
  // Another host's pid means nothing here: assume it is alive.
  if (owner.host !== undefined && owner.host !== hostname()) return owner;
  return isAlive(owner.pid, path) ? owner : undefined;
}

function lockContent(): string {
  const command = [process.argv0, ...process.argv.slice(1)].join(' ').replace(/\s+/g, ' ');
  return `${process.pid}\n${new Date().toISOString()}\n${hostname()}\n${command.length > 300 ? `${command.slice(0, 300)}…` : command}\n`;
}

/** Puts our lock file in place if there is none: false if one exists. */
function create(path: string): boolean {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, lockContent(), { flag: 'wx' });
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // gone already
    }
  }
}

function locked(dataDir: string, path: string, owner: Owner): FeteError {
  const self = owner.pid === process.pid && owner.host === hostname();
  return new FeteError(
    'STORE_LOCKED',
    `the PGlite store at ${dataDir} is in use by ${ownerText(owner)}${self ? ' — this process: open it once and share the fete instance' : ''}. ` +
      `Only one process may open an embedded store: stop that process first, or use PostgreSQL to share one store between processes. ` +
      `If that process no longer runs (its pid was reused, or it ran on another host), delete ${path}.`,
    { details: { dataDir, lockFile: path, pid: owner.pid, since: owner.since, host: owner.host, command: owner.command } },
  );
}

function removeIfPresent(remove: () => void): void {
  try {
    remove();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Takes the take-over lock; false if another process holds it (and it is not stale). */
function takeoverLock(path: string): boolean {
  const dir = `${path}.takeover`;
  try {
    mkdirSync(dir);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  try {
    if (Date.now() - statSync(dir).mtimeMs > TAKEOVER_STALE_MS) {
      debug('removing take-over lock %s left by a process that died during a take-over', dir);
      rmdirSync(dir);
    }
  } catch {
    // removed meanwhile by its owner or another process
  }
  return false;
}

/**
 * Takes the lock of `dataDir` (the file `<dataDir>.lock`), taking over a lock with no live owner.
 * Throws STORE_LOCKED naming the owner (pid, since when, host, command) when a live process holds
 * it, and STORE_UNAVAILABLE when the file cannot be written (permissions, a read-only volume).
 */
export async function lockDataDir(dataDir: string): Promise<DirLock> {
  const dir = resolve(dataDir);
  const path = `${dir}.lock`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    for (let round = 0; round < ROUNDS; round++) {
      if (create(path)) return held(path);
      const owner = readOwner(path);
      if (owner === null) continue; // released meanwhile: try again at once
      const live = liveOwner(path, owner);
      if (live) throw locked(dir, path, live);
      if (takeoverLock(path)) {
        try {
          // Judged again under the take-over lock: the file may have been replaced meanwhile.
          const now = readOwner(path);
          const still = now === null ? undefined : liveOwner(path, now);
          if (still) throw locked(dir, path, still);
          if (now !== null) {
            debug('taking over lock %s: %s', path, now ? `${ownerText(now)} is gone` : 'empty or unreadable, no owner');
            removeIfPresent(() => unlinkSync(path));
          }
          if (create(path)) return held(path);
        } finally {
          removeIfPresent(() => rmdirSync(`${path}.takeover`));
        }
      } else {
        await new Promise((r) => setTimeout(r, 20 + Math.random() * 30));
      }
    }
  } catch (err) {
    if (err instanceof FeteError) throw err;
    throw new FeteError('STORE_UNAVAILABLE', `could not take the lock ${path}: ${describeThrown(err, { stack: false })}`, { cause: err });
  }
  throw new FeteError('STORE_LOCKED', `could not take the lock ${path}: other processes kept taking it over`, { details: { dataDir: dir, lockFile: path } });
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
      const owner = readOwner(path);
      if (owner && owner.pid === process.pid) unlinkSync(path);
    } catch {
      // already gone
    }
  };
  // A normal exit without close() still frees the directory; a SIGKILL leaves a stale lock.
  process.on('exit', release);
  return { path, release: async () => release() };
}
