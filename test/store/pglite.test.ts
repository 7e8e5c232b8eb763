// The store suite on PGlite in memory (one instance for the file, a fresh schema per test).
import { describe } from 'vitest';
import { pgliteEngine } from './engines.js';
import { storeSuite } from './store-suite.js';

describe('store on PGlite', () => storeSuite(pgliteEngine()));
