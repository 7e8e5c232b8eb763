// Text the store can hold exactly as given. PostgreSQL (and PGlite) refuse a NUL in `text` and a
// NUL or a lone UTF-16 surrogate in `jsonb`, and a lone surrogate in `text` is stored as U+FFFD
// (the driver encodes strings as UTF-8): 'a\ud800' and 'a\udc00' become one value. Every string
// that becomes a store key or a jsonb header (subject tokens, tenants, actors, header names and
// values) is checked here, at the edge, so that none can merge two keys or reach the store as an
// error that looks like an outage (found by probe3: two subjects' latest values merged into one).

/** A NUL, or a surrogate that is not half of a pair. */
// eslint-disable-next-line no-control-regex
export const UNSTORABLE_TEXT = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** True when `text` holds no NUL and no lone surrogate: the store keeps it as given. */
export function isStorableText(text: string): boolean {
  return !UNSTORABLE_TEXT.test(text);
}
