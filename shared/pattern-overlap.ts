// Whether two subject patterns can match a common subject (NATS semantics: `*` is one token, `>`
// one or more trailing tokens). Used by the server (exposure, retention gaps, listeners) and the
// client (which topics a subscription can receive: a `volatile` notice on resume).

/** True when some subject matches both `a` and `b`. */
export function patternsOverlap(a: string, b: string): boolean {
  const x = a.split('.');
  const y = b.split('.');
  let i = 0;
  for (; i < x.length && i < y.length; i++) {
    const s = x[i]!;
    const t = y[i]!;
    // `>` takes every remaining token of the other side (one at least: this one).
    if (s === '>' || t === '>') return true;
    if (s !== '*' && t !== '*' && s !== t) return false;
  }
  // One ended: the other's next token (a literal, `*` or `>`) needs a token that is not there.
  return x.length === y.length;
}
