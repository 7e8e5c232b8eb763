// A set of patterns in a token trie that answers the two questions a web node's NATS interest asks
// on every change (nats-interest.ts): which held patterns cover this one, and which does it cover.
// Each walks only the branches that can answer, so its cost is the patterns it touches, not all held.
//
// Patterns are valid fete patterns (or interests: a tenant token, then a pattern), NATS style: `*`
// is one token, a final `>` one or more. `a` covers `b` when every subject `b` matches, `a` matches
// (nats-subjects.ts `patternCovers`, which stays the one definition: the walks find candidates, the
// caller's `covers` decides). Token by token, that is: a literal covers only itself, `*` covers a
// literal or `*`, and a final `>` covers one or more remaining tokens of any kind, `>` included.

class Node {
  /** Literal tokens' children. */
  children: Map<string, Node> | undefined = undefined;
  star: Node | undefined = undefined;
  /** The pattern that ends here (its tokens are this node's path). */
  exact: string | undefined = undefined;
  /** The pattern that is this node's path followed by `>`. */
  rest: string | undefined = undefined;

  isEmpty(): boolean {
    return this.children === undefined && this.star === undefined && this.exact === undefined && this.rest === undefined;
  }
}

/** Called with each candidate; returning true stops the walk. */
export type Visit = (pattern: string) => boolean | void;

export class PatternTrie {
  #root = new Node();
  #size = 0;

  /** How many patterns the set holds. */
  get size(): number {
    return this.#size;
  }

  /** Adds `pattern` (a valid pattern; not checked here). Returns false if it was already held. */
  add(pattern: string): boolean {
    const tokens = pattern.split('.');
    const last = tokens.length - 1;
    let node = this.#root;
    for (let i = 0; i < last; i++) node = child(node, tokens[i]!);
    if (tokens[last] === '>') {
      if (node.rest !== undefined) return false;
      node.rest = pattern;
    } else {
      node = child(node, tokens[last]!);
      if (node.exact !== undefined) return false;
      node.exact = pattern;
    }
    this.#size++;
    return true;
  }

  /** Removes `pattern`, pruning the nodes it leaves empty. Returns false if it was not held. */
  delete(pattern: string): boolean {
    if (!remove(this.#root, pattern.split('.'), 0)) return false;
    this.#size--;
    return true;
  }

  clear(): void {
    this.#root = new Node();
    this.#size = 0;
  }

  /** Visits every held pattern that covers `pattern` (itself included, if held), until `visit`
   * returns true; returns whether it did. Walks at most two branches per token (the literal and
   * `*`), and only the nodes that exist. */
  someCovering(pattern: string, visit: Visit): boolean {
    return covering(this.#root, pattern.split('.'), 0, visit);
  }

  /** Visits every held pattern that `pattern` covers (itself included, if held), until `visit`
   * returns true; returns whether it did. Walks one branch per literal token, every branch under
   * a `*` (one level) or a `>` (the whole subtree: all of it is covered). */
  someCovered(pattern: string, visit: Visit): boolean {
    return covered(this.#root, pattern.split('.'), 0, visit);
  }
}

function child(node: Node, token: string): Node {
  if (token === '*') return (node.star ??= new Node());
  const children = (node.children ??= new Map());
  let next = children.get(token);
  if (next === undefined) children.set(token, (next = new Node()));
  return next;
}

function remove(node: Node, tokens: string[], i: number): boolean {
  const token = tokens[i]!;
  const last = i === tokens.length - 1;
  if (last && token === '>') {
    if (node.rest === undefined) return false;
    node.rest = undefined;
    return true;
  }
  const next = token === '*' ? node.star : node.children?.get(token);
  if (next === undefined) return false;
  if (last) {
    if (next.exact === undefined) return false;
    next.exact = undefined;
  } else if (!remove(next, tokens, i + 1)) return false;
  if (next.isEmpty()) {
    if (token === '*') node.star = undefined;
    else {
      node.children!.delete(token);
      if (node.children!.size === 0) node.children = undefined;
    }
  }
  return true;
}

// Held patterns covering tokens[i..] below `node`: a `>` here covers any one or more remaining
// tokens; a literal token is covered through its own child or `*`, a `*` only through `*`, and a
// `>` only by a `>` (checked above); with no token left, only a pattern ending here does.
function covering(node: Node, tokens: string[], i: number, visit: Visit): boolean {
  if (i === tokens.length) return node.exact !== undefined && visit(node.exact) === true;
  if (node.rest !== undefined && visit(node.rest) === true) return true;
  const token = tokens[i]!;
  if (token === '>') return false;
  if (token !== '*') {
    const next = node.children?.get(token);
    if (next !== undefined && covering(next, tokens, i + 1, visit)) return true;
  }
  return node.star !== undefined && covering(node.star, tokens, i + 1, visit);
}

// Held patterns that tokens[i..] covers below `node`: a literal covers only its own child, a `*`
// every child of one level (a `>` here is not covered: it may match more tokens), a `>` every
// pattern longer than this node's path.
function covered(node: Node, tokens: string[], i: number, visit: Visit): boolean {
  if (i === tokens.length) return node.exact !== undefined && visit(node.exact) === true;
  const token = tokens[i]!;
  if (token === '>') {
    if (node.rest !== undefined && visit(node.rest) === true) return true;
    return someBelow(node, visit);
  }
  if (token !== '*') {
    const next = node.children?.get(token);
    return next !== undefined && covered(next, tokens, i + 1, visit);
  }
  if (node.children !== undefined) for (const next of node.children.values()) if (covered(next, tokens, i + 1, visit)) return true;
  return node.star !== undefined && covered(node.star, tokens, i + 1, visit);
}

/** Every pattern held in the children of `node` and below. */
function someBelow(node: Node, visit: Visit): boolean {
  if (node.children !== undefined) for (const next of node.children.values()) if (someIn(next, visit)) return true;
  return node.star !== undefined && someIn(node.star, visit);
}

function someIn(node: Node, visit: Visit): boolean {
  if (node.exact !== undefined && visit(node.exact) === true) return true;
  if (node.rest !== undefined && visit(node.rest) === true) return true;
  return someBelow(node, visit);
}
