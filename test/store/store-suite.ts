// The one store suite, run against every engine (River's riverdrivertest style): pglite.test.ts
// and postgres.test.ts call it with their engine.
import type { Engine } from './suite/harness.js';
import { FAST_WORKER, useHarness } from './suite/harness.js';
import { hostileThrowTests } from '../server/hostile-throws-suite.js';
import { leaseRescueTests } from './suite/lease-rescue.js';
import { dispatchTests } from './suite/dispatch.js';
import { heartbeatTests } from './suite/heartbeat.js';
import { listenerContextTests } from './suite/listener-context.js';
import { logTests } from './suite/log.js';
import { replayTests } from './suite/replay.js';
import { retentionTests } from './suite/retention.js';
import { lifecycleTests } from './suite/lifecycle.js';
import { delayedOrderedTests } from './suite/delayed-ordered.js';
import { scheduleTests } from './suite/schedules.js';
import { groupCommitTests } from './suite/group-commit.js';

export function storeSuite(engine: Engine): void {
  const h = useHarness(engine);
  logTests(h);
  groupCommitTests(h);
  replayTests(h);
  dispatchTests(h);
  heartbeatTests(h);
  listenerContextTests(h);
  retentionTests(h);
  leaseRescueTests(h);
  // Only a recorded outcome may end these attempts: no lease rescue to hide an unrecorded failure.
  hostileThrowTests(async () => (await h.open({ worker: { ...FAST_WORKER, rescueIntervalMs: 0 } })).fete);
  lifecycleTests(h);
  delayedOrderedTests(h);
  scheduleTests(h);
}
