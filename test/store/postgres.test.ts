// The store suite on PostgreSQL (FETE_TEST_DATABASE_URL). Skipped with a printed reason when it is
// not set or unreachable outside CI; in CI that is a failure.
import { describe } from 'vitest';
import { postgresAvailability } from '../support/postgres.js';
import { postgresEngine } from './engines.js';
import { storeSuite } from './store-suite.js';

const pg = await postgresAvailability();
if (pg.skipReason) process.stdout.write(`[fete] skipping the PostgreSQL store suite: ${pg.skipReason}\n`);

describe.skipIf(pg.skipReason !== undefined)('store on PostgreSQL', () => storeSuite(postgresEngine(() => pg.url)));
