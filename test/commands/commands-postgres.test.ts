// The commands suite on PostgreSQL (FETE_TEST_DATABASE_URL); skipped with a printed reason when it
// is not set or unreachable outside CI. Role forwarding between two fetes is in forwarding.test.ts.
import { describe } from 'vitest';
import { postgresAvailability } from '../support/postgres.js';
import { postgresEngine } from '../store/engines.js';
import { useHarness } from '../store/suite/harness.js';
import { commandClaimTests } from './command-claims-suite.js';
import { commandTests } from './commands-suite.js';

const pg = await postgresAvailability();
if (pg.skipReason) process.stdout.write(`[fete] skipping the PostgreSQL commands suite: ${pg.skipReason}\n`);

describe.skipIf(pg.skipReason !== undefined)('commands on PostgreSQL', () => {
  const h = useHarness(postgresEngine(() => pg.url));
  commandTests(h);
  commandClaimTests(h);
});
