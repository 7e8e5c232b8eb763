// Which store errors no retry will fix. A write refused by the file system (permission, a read-only
// mount, a full disk), damaged files, or an embedded engine that aborted: calling again gives the
// same error until someone acts, so they become STORE_FAILED (`retryable: false`) with a message
// saying what to do, instead of STORE_UNAVAILABLE, which tells callers to try again.
//
// Found by making a PGlite data directory read-only under a running server: every emit failed
// (`could not open file "base/5/2691": Permission denied`, SQLSTATE 42501; other paths report
// `File exists` for a half-made file) and each failure said `retryable: true`.
import { FeteError } from '../../shared/index.js';

// SQLSTATE classes and codes: 53 insufficient resources (53100 disk full), 58 system errors
// (58030 I/O error), XX001/XX002 data or index corrupted.
const FAILED_STATES = /^(53100|58\d{3}|XX001|XX002)$/;
// File-system faults in the text, whatever the SQLSTATE. Case matters: the OS's texts are
// capitalised ("Permission denied"), an SQL permission check (also 42501, not a file fault) says
// "permission denied for table ...".
const FILE_FAULT =
  /([Cc]ould not (open|create|write|extend|read|fsync|rename|link|remove|truncate) (file|directory)|Permission denied|Read-only file system|No space left|File exists|EACCES|EROFS|ENOSPC|EEXIST|EIO\b)/;
// A WASM instance that aborted is dead for good; only a new one helps.
const ABORTED = /(RuntimeError|Aborted\(|unreachable|memory access out of bounds|worker thread exited)/i;

/** Whether `err` (from a driver) is a failure that retrying will not clear. */
export function isPermanentStoreFault(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && FAILED_STATES.test(code)) return true;
  const fileFault = FILE_FAULT.test(err.message) && (typeof code !== 'string' || code === '42501' || /^E[A-Z]+$/.test(code) || /^(58|53|XX)/.test(code));
  return fileFault || ABORTED.test(`${err.name}: ${err.message}`);
}

/** STORE_FAILED for `err`, naming `where` (a data directory, or "in memory") and what to do. */
export function storeFailed(err: unknown, where: string): FeteError {
  const message = err instanceof Error ? err.message : String(err);
  return new FeteError(
    'STORE_FAILED',
    `the embedded store (${where}) cannot write: ${message}. Make the directory writable and free disk space; ` +
      'fete reopens the store on its next use once it can write again (check GET /health).',
    { cause: err },
  );
}
