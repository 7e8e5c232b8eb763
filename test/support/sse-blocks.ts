// Reads a Server-Sent Events body block by block (a block ends at a blank line), for the tests'
// SSE readers. No vitest import: child processes use it too.

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
