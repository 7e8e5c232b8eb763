// The hostile-throws suite (issue 9 item 5) on `dispatch: 'inline'`: the same contract as durable
// dispatch, in memory.
import { afterEach, describe } from 'vitest';
import { type Fete, createFete } from '../../server/index.js';
import { type Topics, topics } from '../store/suite/harness.js';
import { hostileThrowTests } from './hostile-throws-suite.js';

const opened: Array<Fete<Topics, 'inline'>> = [];
afterEach(async () => {
  for (const f of opened.splice(0)) await f.stop({ drain: false });
});

describe('inline dispatch', () => {
  hostileThrowTests(async () => {
    const fete = await createFete({ topics, dispatch: 'inline' });
    opened.push(fete);
    return fete;
  });
});
