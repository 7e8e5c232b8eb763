// Presence on PGlite (one process) and inline (memory), the shared suite.
import { describe } from 'vitest';
import { freshSchema } from '../support/postgres.js';
import { sharedStore, sharePGlite } from '../realtime/support.js';
import { presenceSuite } from './presence-suite.js';

describe('presence on PGlite', () => {
  sharePGlite();
  presenceSuite(() => ({ store: sharedStore(), schema: freshSchema('pr') }));
});

describe('presence inline (no store)', () => {
  presenceSuite(() => ({ dispatch: 'inline', schema: freshSchema('pr') }));
});
