// The SQL a handler may send through `ctx.tx` (commands, queries, listeners, `fete.transaction`).
// The transaction around a handler carries fete's promises: a command's result is recorded in it
// (exactly once), a delivery's completion is committed with its effects, a query runs read-only.
// A handler that ends or reshapes that transaction itself (COMMIT, ROLLBACK, SET TRANSACTION READ
// WRITE, a savepoint of its own) or changes settings that outlive it on a pooled connection would
// break them silently, so such statements are refused before they reach the store.
//
// One statement per call: a `;` followed by another statement is refused (node-postgres would
// send a parameterless text with several statements through the simple protocol, running them
// all). Quotes, dollar quotes, quoted identifiers and comments are skipped when looking for it.
// Transaction control inside DO blocks and procedures needs no check here: PostgreSQL refuses it
// inside a transaction block ("invalid transaction termination").
import { FeteError } from '../../shared/index.js';

/** Statements refused by their first keyword. */
const REFUSED = new Set(['BEGIN', 'START', 'COMMIT', 'END', 'ROLLBACK', 'ABORT', 'SAVEPOINT', 'RELEASE', 'RESET', 'DISCARD']);
/** Settings `SET LOCAL` may not change: the transaction's own mode and the caller's identity. */
const REFUSED_SETTINGS = new Set(['transaction_read_only', 'transaction_isolation', 'transaction_deferrable', 'default_transaction_read_only', 'role', 'session_authorization']);

function refuse(why: string): never {
  throw new FeteError('FORBIDDEN', `ctx.tx: ${why}; fete commits or rolls back the handler's transaction itself`);
}

/** Index past the quoted text, comment or dollar-quoted body starting at `i`, or `i` if none. */
function skipQuoted(sql: string, i: number): number {
  const c = sql[i];
  if (c === "'" || c === '"') {
    // E'..' strings escape with backslashes; others double the quote.
    const backslashes = c === "'" && i > 0 && /[eE]/.test(sql[i - 1]!) && (i < 2 || !/[\w$]/.test(sql[i - 2]!));
    for (let j = i + 1; j < sql.length; j++) {
      if (backslashes && sql[j] === '\\') j++;
      else if (sql[j] === c) {
        if (sql[j + 1] === c) j++;
        else return j + 1;
      }
    }
    return sql.length;
  }
  if (c === '-' && sql[i + 1] === '-') {
    const end = sql.indexOf('\n', i);
    return end < 0 ? sql.length : end + 1;
  }
  if (c === '/' && sql[i + 1] === '*') {
    let depth = 1;
    let j = i + 2;
    while (j < sql.length && depth > 0) {
      if (sql[j] === '/' && sql[j + 1] === '*') (depth++, (j += 2));
      else if (sql[j] === '*' && sql[j + 1] === '/') (depth--, (j += 2));
      else j++;
    }
    return j;
  }
  if (c === '$' && (i === 0 || !/[\w$]/.test(sql[i - 1]!))) {
    const tag = /^\$([A-Za-z_][\w]*)?\$/.exec(sql.slice(i));
    if (tag) {
      const end = sql.indexOf(tag[0], i + tag[0].length);
      return end < 0 ? sql.length : end + tag[0].length;
    }
  }
  return i;
}

/** The statement's words outside quotes and comments, upper-cased, up to `max`. */
function leadingWords(sql: string, max: number): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < sql.length && words.length < max) {
    if (sql[i] === '"') {
      // A quoted identifier is a word too (`SET LOCAL "role" ...`).
      const past = skipQuoted(sql, i);
      words.push(sql.slice(i + 1, past - 1).replaceAll('""', '"').toUpperCase());
      i = past;
      continue;
    }
    const past = skipQuoted(sql, i);
    if (past !== i) {
      i = past;
      continue;
    }
    const m = /^[A-Za-z_][\w$]*/.exec(sql.slice(i, i + 64));
    if (m) {
      words.push(m[0].toUpperCase());
      i += m[0].length;
    } else i++;
  }
  return words;
}

/** Functions whose effect outlives the transaction (probe3: `SELECT set_config('search_path',
 * 'x', false)` in a query handler changed the search path of every later transaction on that
 * connection, PGlite's only one): session advisory locks, and set_config unless its third argument
 * is literally `true` (transaction-local, as SET LOCAL; the usual row-level-security pattern). */
const SESSION_LOCKS = new Set(['PG_ADVISORY_LOCK', 'PG_ADVISORY_LOCK_SHARED', 'PG_TRY_ADVISORY_LOCK', 'PG_TRY_ADVISORY_LOCK_SHARED']);
/** Statements that act on the session, refused by their first keyword: LISTEN and UNLISTEN. */
const SESSION_STATEMENTS = new Set(['LISTEN', 'UNLISTEN']);

/** The top-level arguments of the call whose `(` is at `open`, as text. */
function callArguments(sql: string, open: number): string[] {
  const args: string[] = [];
  let depth = 0;
  let start = open + 1;
  for (let i = open; i < sql.length; ) {
    const past = skipQuoted(sql, i);
    if (past !== i) {
      i = past;
      continue;
    }
    const c = sql[i];
    if (c === '(') depth++;
    else if (c === ')' && --depth === 0) {
      args.push(sql.slice(start, i));
      return args;
    } else if (c === ',' && depth === 1) {
      args.push(sql.slice(start, i));
      start = i + 1;
    }
    i++;
  }
  args.push(sql.slice(start));
  return args;
}

/** Refuses calls of functions whose effect outlives the handler's transaction. */
function checkSessionCalls(sql: string): void {
  for (let i = 0; i < sql.length; ) {
    let word: string | undefined;
    let next = i;
    if (sql[i] === '"') {
      next = skipQuoted(sql, i);
      word = sql.slice(i + 1, next - 1).replaceAll('""', '"').toUpperCase();
    } else {
      const past = skipQuoted(sql, i);
      if (past !== i) {
        i = past;
        continue;
      }
      const m = /^[A-Za-z_][\w$]*/.exec(sql.slice(i, i + 64));
      if (!m) {
        i++;
        continue;
      }
      word = m[0].toUpperCase();
      next = i + m[0].length;
    }
    const open = /^\s*\(/.exec(sql.slice(next, next + 64));
    if (open) {
      if (SESSION_LOCKS.has(word)) refuse(`${word.toLowerCase()} holds its lock past the transaction; use the pg_advisory_xact_lock forms`);
      if (word === 'SET_CONFIG') {
        const args = callArguments(sql, next + open[0].length - 1);
        const local = args[2]?.trim();
        if (local === undefined || !/^(true|'t'|'true')$/i.test(local))
          refuse("set_config(name, value, false) changes the session; pass true as its third argument (transaction-local, like SET LOCAL)");
        const name = /^'([^']*)'$/.exec(args[0]?.trim() ?? '')?.[1]?.toLowerCase();
        if (name !== undefined && REFUSED_SETTINGS.has(name)) refuse(`set_config of ${name} is not allowed`);
      }
    }
    i = next;
  }
}

/**
 * Throws FeteError FORBIDDEN when `sql` holds more than one statement, controls the transaction
 * (BEGIN, COMMIT, END, ROLLBACK, ABORT, SAVEPOINT, RELEASE, PREPARE TRANSACTION, SET TRANSACTION,
 * SET SESSION), changes a setting beyond the transaction (a SET that is not SET LOCAL, RESET,
 * DISCARD, set_config(..., false)), takes a session advisory lock, LISTENs or UNLISTENs, or changes
 * the transaction's mode or role with SET LOCAL. MALFORMED when it is not a
 * string. Everything else goes to the store, which judges it.
 */
export function checkHandlerSql(sql: unknown): void {
  if (typeof sql !== 'string') throw new FeteError('MALFORMED', 'ctx.tx.query: the statement must be a string');
  // One statement: nothing but blanks and comments after a top-level `;`.
  for (let i = 0; i < sql.length; ) {
    const past = skipQuoted(sql, i);
    if (past !== i) {
      i = past;
      continue;
    }
    if (sql[i] === ';' && leadingWords(sql.slice(i + 1), 1).length > 0) refuse('one statement per query');
    i++;
  }
  const [first, second, third] = leadingWords(sql, 3);
  if (first === undefined) return;
  if (REFUSED.has(first)) refuse(`${first} is not allowed in a handler's transaction`);
  if (SESSION_STATEMENTS.has(first)) refuse(`${first} acts on the session, beyond the handler's transaction`);
  if (first === 'PREPARE' && second === 'TRANSACTION') refuse('PREPARE TRANSACTION is not allowed');
  if (first === 'SET') {
    if (second === 'TRANSACTION' || second === 'SESSION') refuse(`SET ${second} is not allowed`);
    if (second !== 'LOCAL') refuse('only SET LOCAL is allowed (a session setting would outlive the transaction on a pooled connection)');
    if (third !== undefined && REFUSED_SETTINGS.has(third.toLowerCase())) refuse(`SET LOCAL ${third.toLowerCase()} is not allowed`);
  }
  if (/set_config|advisory_lock/i.test(sql)) checkSessionCalls(sql);
}
