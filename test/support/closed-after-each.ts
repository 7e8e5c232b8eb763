// What a test opened (servers, raw sockets, streams), closed after each test: the tests push what
// they open onto an array this registers, instead of each file writing its own afterEach.
import { afterEach } from 'vitest';

/** Registers (where it is called: a file's top level or a `describe`) an `afterEach` that closes
 * every item pushed onto the returned array, all at once, and empties it. A close that throws or
 * rejects fails that hook. Items may be removed by the test (closed by itself). */
export function closedAfterEach<T extends { close(): unknown }>(): T[] {
  const opened: T[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((o) => o.close()));
  });
  return opened;
}
