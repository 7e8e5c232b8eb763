// The worker processes a reliability test file spawns, and what its tests leave behind (schemas,
// directories), cleaned up once after the file: every child still alive is continued (it may be
// SIGSTOPped) and SIGKILLed, then each cleanup runs in the order it was registered.
import { afterAll } from 'vitest';
import { Child, type ChildConfig } from './support.js';

export interface FileChildren {
  /** A child worker process with `config`, killed after the file. */
  spawn(config: ChildConfig): Child;
  /** Runs `cleanup` after the file, once the children are gone. */
  cleanup(cleanup: () => Promise<void>): void;
}

/** Registers the `afterAll` (call it at a test file's top level). */
export function childrenOfThisFile(): FileChildren {
  const children: Child[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of children) if (c.alive) c.proc.kill('SIGCONT');
    await Promise.all(children.map((c) => c.kill()));
    for (const c of cleanups) await c();
  });
  return {
    spawn(config) {
      const c = new Child(config);
      children.push(c);
      return c;
    },
    cleanup: (cleanup) => void cleanups.push(cleanup),
  };
}
