// The NATS subjects of the bus. Everything of one log lives under `<prefix>.<epoch>` (the root), so
// two stores sharing one NATS never hear each other (and a test's fresh schema gets a fresh root):
//   <root>.ev.<tenant>.<fete subject>     one committed event, in wire form (nats-bus.ts); a node
//                                          subscribes to <root>.ev.<tenant>.<pattern> per tenant
//   <root>.commits                         one commit notice per commit (every web node hears it)
//   <root>.live.<kind>.<tenant>.<subject>  live-channel messages (nats-live-channel.ts)
// fete's subject tokens hold no `.`, `*`, `>`, whitespace or control characters (shared/subject.ts),
// so a fete subject is a valid tail of a NATS subject as it is, and a fete pattern (`*` one token,
// a final `>` one or more) is a NATS pattern with the same meaning. Tenants are free strings: each
// becomes one token, base64url of its UTF-8 ('_' for the default tenant '', which base64url never
// yields on its own: one byte already takes two characters).
import { FeteError } from '../../shared/index.js';

const NATS_TOKEN = /^[A-Za-z0-9_-]+$/;

/** `tenant` as one NATS token. */
export function tenantToken(tenant: string): string {
  return tenant === '' ? '_' : Buffer.from(tenant, 'utf8').toString('base64url');
}

/** The root of one log's subjects: `prefix` (checked: dot-separated tokens of [A-Za-z0-9_-]) and
 * the log's epoch (made of hex digits by 003_epoch.sql; anything else is replaced by `_`). */
export function busRoot(prefix: string, epoch: string): string {
  if (typeof prefix !== 'string' || !prefix.split('.').every((t) => NATS_TOKEN.test(t)))
    throw new FeteError('INVALID_OPTIONS', `bus.prefix must be dot-separated tokens of letters, digits, '_' and '-', got ${JSON.stringify(prefix)}`);
  return `${prefix}.${epoch.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

export interface BusSubjects {
  readonly root: string;
  /** Where an event of `tenant` on `subject` is published. */
  event(tenant: string, subject: string): string;
  /** What a node subscribes to for `interest(tenant, pattern)`. */
  eventPattern(interest: string): string;
  readonly commits: string;
}

export function busSubjects(root: string): BusSubjects {
  const ev = `${root}.ev.`;
  return {
    root,
    event: (tenant, subject) => `${ev}${tenantToken(tenant)}.${subject}`,
    eventPattern: (interest) => `${ev}${interest}`,
    commits: `${root}.commits`,
  };
}

/** One tenant's pattern as one pattern (the tenant's token first), as a node's interest holds it:
 * `patternCovers` compares such interests as it compares patterns. */
export function interest(tenant: string, pattern: string): string {
  return `${tenantToken(tenant)}.${pattern}`;
}

/** True when every subject `b` matches is matched by `a` (both valid fete patterns): a node
 * subscribed to `a` needs no NATS subscription for `b`, which would deliver the same messages twice. */
export function patternCovers(a: string, b: string): boolean {
  if (a === b) return true;
  const ta = a.split('.');
  const tb = b.split('.');
  for (let i = 0; i < ta.length; i++) {
    const x = ta[i]!;
    if (x === '>') return tb.length > i;
    const y = tb[i];
    if (y === undefined || y === '>') return false;
    if (x !== '*' && (y === '*' || x !== y)) return false;
  }
  return ta.length === tb.length;
}
