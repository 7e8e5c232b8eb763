// A process contending for a PGlite directory lock, for the take-over race test: waits for "go" on
// stdin, tries lockDataDir(<dir>) and prints "locked" or "refused <code>", then holds the lock
// until stdin ends.
import { createInterface } from 'node:readline';
import { lockDataDir } from '../../server/store/dir-lock.js';

const dir = process.argv[2]!;
const lines = createInterface({ input: process.stdin });
process.stdout.write('waiting\n');
lines.once('line', () => {
  lockDataDir(dir).then(
    (lock) => {
      process.stdout.write('locked\n');
      lines.once('close', () => void lock.release().then(() => process.exit(0)));
    },
    (err: { code?: string }) => {
      process.stdout.write(`refused ${err.code}\n`);
      process.exit(0);
    },
  );
});
