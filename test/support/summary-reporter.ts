// A vitest reporter that ends the run with one plain line, "tests: N passed, N failed, N skipped",
// which CI log readers recognise. "failed" counts failed tests, plus every module or suite that
// failed outside a test (an import that throws, a beforeAll or afterAll that throws) and every
// unhandled error: a run that exits 1 never reads "0 failed" (test/ci-summary.test.ts).
import type { Reporter, TestModule } from 'vitest/node';

/** Suites and modules that failed by themselves: with errors of their own (import, beforeAll,
 * afterAll), plus a module in a failed state with nothing else (no failed test or suite) to show
 * for it. */
function unitFailures(m: TestModule): number {
  let n = 0;
  for (const s of m.children.allSuites()) if (s.errors().length > 0) n++;
  if (m.errors().length > 0) return n + 1;
  if (n > 0 || m.state() !== 'failed') return n;
  for (const _ of m.children.allTests('failed')) return n;
  return 1;
}

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = unhandledErrors.length;
    let skipped = 0;
    for (const m of modules) {
      failed += unitFailures(m);
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
      }
    }
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
