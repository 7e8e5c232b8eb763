// The commands suite on PGlite in memory (one instance for the file, a fresh schema per test).
import { describe } from 'vitest';
import { pgliteEngine } from '../store/engines.js';
import { useHarness } from '../store/suite/harness.js';
import { commandClaimTests } from './command-claims-suite.js';
import { commandTests } from './commands-suite.js';

describe('commands on PGlite', () => {
  const h = useHarness(pgliteEngine());
  commandTests(h);
  commandClaimTests(h);
});
