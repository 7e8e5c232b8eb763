// The one store suite, run against every engine (River's riverdrivertest style): pglite.test.ts
// and postgres.test.ts call it with their engine.
import type { Engine } from './suite/harness.js';
import { useHarness } from './suite/harness.js';
import { dispatchTests } from './suite/dispatch.js';
import { listenerContextTests } from './suite/listener-context.js';
import { logTests } from './suite/log.js';
import { retentionTests } from './suite/retention.js';
import { lifecycleTests } from './suite/lifecycle.js';
import { delayedOrderedTests } from './suite/delayed-ordered.js';
import { scheduleTests } from './suite/schedules.js';

export function storeSuite(engine: Engine): void {
  const h = useHarness(engine);
  logTests(h);
  dispatchTests(h);
  listenerContextTests(h);
  retentionTests(h);
  lifecycleTests(h);
  delayedOrderedTests(h);
  scheduleTests(h);
}
