// A dead letter's `lastError` is the error's stack as the server recorded it: a first line worth
// reading, then frames full of absolute paths of the server's machine. The page shows the message
// and keeps the stack behind a disclosure, with paths cut to the project (from the first
// well-known directory: playground/, server/, shared/, client/, node_modules/, src/).

export interface ErrorText {
  /** The first line, without a leading `Error: `. */
  message: string;
  /** The rest (stack frames), paths relative to the project; empty when there is none. */
  stack: string;
}

const PROJECT_DIRS = '(?:playground|server|shared|client|node_modules|src|examples|test)';
const ABSOLUTE_PATH = new RegExp(String.raw`(?:file://)?(?:/|[A-Za-z]:[\\/])[^\s()'"]*?[\\/](${PROJECT_DIRS}[\\/])`, 'g');

/** Makes absolute paths relative to the project: `/home/me/shop/playground/server/x.ts` -> `playground/server/x.ts`. */
export function relativePaths(text: string): string {
  return text.replace(ABSOLUTE_PATH, '$1');
}

export function splitError(text: string | null | undefined): ErrorText {
  if (!text) return { message: 'failed (no error recorded)', stack: '' };
  const [first = '', ...rest] = relativePaths(text).split('\n');
  return { message: first.replace(/^Error: /, ''), stack: rest.join('\n').trim() };
}
