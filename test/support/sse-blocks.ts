// Reads a Server-Sent Events body block by block (a block ends at a blank line) and parses a block
// into its fields, for the tests' SSE readers. No vitest import: child processes use it too.

/** One SSE message: its fields, the `data` lines joined by `\n` (undefined when it had none). */
export interface SseMessage {
  id?: string;
  event?: string;
  data?: string;
  /** Comment lines (`: ping`, `: ok cursor=...`), without the colon. */
  comments: string[];
}

/** Parses one block (without its blank line) as the SSE spec reads fields: `field: value`, the
 * one space after the colon dropped; a line starting with `:` is a comment. */
export function parseSseMessage(block: string): SseMessage {
  const m: SseMessage = { comments: [] };
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) m.comments.push(line.slice(1).trim());
    else {
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'id') m.id = value;
      else if (field === 'event') m.event = value;
      else if (field === 'data') data.push(value);
    }
  }
  if (data.length > 0) m.data = data.join('\n');
  return m;
}

/** The complete blocks of `body`, in order, as a pull iterator: ends when the body ends, throws
 * when it fails (an abort included). Each `yield` waits for the reader to ask for the next block,
 * so a reader that stops asking stops reading the body (a slow client). */
export async function* sseBlocks(body: ReadableStream<BufferSource>): AsyncGenerator<string, void, undefined> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      yield block;
    }
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
  }
}

/** Calls `onBlock` with each complete block of `body`, then `onChunk` after each read; resolves
 * when the body ends, rejects when it fails (an abort included). */
export async function readSseBlocks(body: ReadableStream<BufferSource>, onBlock: (block: string) => void, onChunk?: () => void): Promise<void> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      onBlock(block);
    }
    onChunk?.();
  }
}
