// NATS-style subject patterns as PostgreSQL regular expressions, so the append statement and log
// reads can match subjects in SQL: `*` is one token (`[^.]+`), a final `>` one or more (`.+`),
// and every other character is a literal (regex metacharacters escaped).
import { validatePattern } from '../../shared/index.js';

const META = /[\\^$.|?*+()[\]{}]/g;

export function patternToRegex(pattern: string): string {
  validatePattern(pattern);
  const parts = pattern.split('.').map((token) => {
    if (token === '*') return '[^.]+';
    if (token === '>') return '.+';
    return token.replace(META, (c) => `\\${c}`);
  });
  return `^${parts.join('\\.')}$`;
}
