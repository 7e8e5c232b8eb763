// @ts-check
// The PGlite worker thread: owns one PGlite instance so that its synchronous WASM work (every
// query, initdb, checkpoints) runs here and never on the server's event loop. The main thread
// talks to it through pglite-bridge.ts with batches of requests; replies go back in batches too.
//
// Plain JavaScript on purpose: a worker thread is started from a file, and Node loads this file as
// is under vitest, tsx and the built package alike (a .ts worker would need a loader in the worker).
// It imports nothing but Node and PGlite.
//
// Order and fairness: each request is handed to PGlite as it arrives, and PGlite serves its one
// connection through a FIFO mutex, so requests run in arrival order; a transaction's queries run
// on it while every other request waits (the single-connection semantics the driver promises).
// Replies are flushed in batches of at most REPLY_BATCH, or at the next turn of this thread's loop.
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parentPort } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';

const REPLY_BATCH = 64;
const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);

/** @type {PGlite | undefined} */
let db;
/** Open transactions: id -> { tx, finish, outcome }. */
const txs = new Map();
let nextTx = 1;
/** channel -> unlisten function */
const listens = new Map();

/** @type {unknown[]} */
let outbox = [];
let flushScheduled = false;

function flush() {
  flushScheduled = false;
  if (outbox.length === 0) return;
  const batch = outbox;
  outbox = [];
  port.postMessage(batch);
}

/** @param {unknown} message */
function send(message) {
  outbox.push(message);
  if (outbox.length >= REPLY_BATCH) flush();
  else if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
}

/** Keeps what the main thread needs to classify and report a failure (SQLSTATE, detail...). */
function serializeError(err) {
  if (!(err instanceof Error)) return { message: String(err) };
  const e = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (err));
  const out = { name: err.name, message: err.message, stack: err.stack };
  for (const k of ['code', 'severity', 'detail', 'hint', 'position', 'schema', 'table', 'column', 'constraint', 'routine', 'errno', 'syscall', 'path'])
    if (e[k] !== undefined && (typeof e[k] === 'string' || typeof e[k] === 'number')) out[k] = e[k];
  return out;
}

/** Makes the template once (initdb in a scratch directory, then a tarball of it for in-memory
 * stores), then renames it into place; a concurrent maker that loses the rename discards its copy. */
async function ensureTemplate(template) {
  if (existsSync(join(template.dir, 'PG_VERSION')) && existsSync(template.tar)) return;
  const scratch = `${template.root}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const data = join(scratch, 'data');
  mkdirSync(scratch, { recursive: true });
  try {
    const made = await PGlite.create({ dataDir: data });
    const tar = await made.dumpDataDir('none');
    await made.close();
    writeFileSync(join(scratch, 'data.tar'), Buffer.from(await tar.arrayBuffer()));
    mkdirSync(dirname(template.root), { recursive: true });
    try {
      renameSync(scratch, template.root);
    } catch {
      // Another process made it first (or a broken one is in the way: replace that).
      if (!(existsSync(join(template.dir, 'PG_VERSION')) && existsSync(template.tar))) {
        rmSync(template.root, { recursive: true, force: true });
        renameSync(scratch, template.root);
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Opens PGlite; a fresh directory (no PG_VERSION) is filled from the template first, PG_VERSION
 * last, so that a copy cut short by a crash is copied again rather than taken for a database. */
async function open({ dataDir, template }) {
  let fromTemplate = false;
  if (template) {
    try {
      const fresh = dataDir === undefined || !existsSync(join(dataDir, 'PG_VERSION'));
      if (fresh) {
        await ensureTemplate(template);
        if (dataDir !== undefined) {
          mkdirSync(dataDir, { recursive: true });
          const marker = join(template.dir, 'PG_VERSION');
          cpSync(template.dir, dataDir, { recursive: true, force: true, filter: (src) => src !== marker });
          cpSync(marker, join(dataDir, 'PG_VERSION'));
        }
        fromTemplate = true;
      }
    } catch (err) {
      // No template (a read-only cache, a full disk): initdb as PGlite does by itself.
      fromTemplate = false;
      send({ log: `template not used: ${err instanceof Error ? err.message : String(err)}` });
    }
  }
  if (dataDir === undefined)
    db = await PGlite.create(fromTemplate ? { loadDataDir: new Blob([readFileSync(template.tar)]) } : {});
  else db = await PGlite.create({ dataDir });
  return { fromTemplate };
}

function instance() {
  if (!db) throw new Error('PGlite is not open');
  return db;
}

function on(txId) {
  if (txId === undefined) return instance();
  const t = txs.get(txId);
  if (!t) throw Object.assign(new Error('the transaction is already committed or rolled back'), { code: 'FETE_CLOSED' });
  return t.tx;
}

/** Opens a transaction that stays open until an `end` request for it (PGlite's own API takes a
 * callback; its mutex keeps every other request waiting meanwhile). */
function begin() {
  return new Promise((resolve, reject) => {
    let opened = false;
    const id = nextTx++;
    let finish;
    const decided = new Promise((r) => (finish = r));
    const outcome = instance().transaction(async (tx) => {
      opened = true;
      txs.set(id, { tx, finish, outcome });
      resolve(id);
      if (!(await decided)) await tx.rollback();
    });
    outcome.catch((err) => {
      if (!opened) reject(err);
    });
  });
}

async function end(txId, commit) {
  const t = txs.get(txId);
  if (!t) throw Object.assign(new Error('the transaction is already committed or rolled back'), { code: 'FETE_CLOSED' });
  txs.delete(txId);
  t.finish(commit);
  try {
    await t.outcome;
  } catch (err) {
    if (commit) throw err;
  }
}

const ops = {
  open,
  async query({ sql, params, tx }) {
    const res = await on(tx).query(sql, params);
    return { rows: res.rows, affectedRows: res.affectedRows ?? 0 };
  },
  async exec({ sql, tx }) {
    await on(tx).exec(sql);
  },
  begin,
  end: ({ tx, commit }) => end(tx, commit),
  async listen({ channel }) {
    if (listens.has(channel)) return;
    listens.set(channel, await instance().listen(channel, (payload) => send({ notify: channel, payload })));
  },
  async unlisten({ channel }) {
    const un = listens.get(channel);
    listens.delete(channel);
    if (un) await un();
  },
  async close() {
    const d = db;
    db = undefined;
    if (d) await d.close();
  },
};

port.on('message', (batch) => {
  for (const req of batch) {
    const op = ops[req.op];
    Promise.resolve()
      .then(() => op(req))
      .then(
        (value) => send({ id: req.id, ok: true, value }),
        (err) => send({ id: req.id, ok: false, error: serializeError(err) }),
      );
  }
});
