// A worker process for the role-forwarding test: a fete with only the 'worker' role on a
// PostgreSQL schema, owning `orders.place` for that role. Answers the test over IPC.
import { createFete } from '../../server/index.js';
import { topics } from '../store/suite/harness.js';
import { commands } from './commands-fixtures.js';

export type WorkerIn = { type: 'stop' };
export type WorkerOut = { type: 'ready' } | { type: 'stopped' } | { type: 'error'; message: string };

const [url, schema] = process.argv.slice(2) as [string, string];
const send = (m: WorkerOut) => process.send?.(m);

try {
  const fete = await createFete({ topics, store: url, schema, roles: ['worker'], commands: { pollIntervalMs: 100 } });
  fete.handle(
    commands.place,
    async (input, ctx) => {
      await ctx.tx.query(`INSERT INTO "${schema}".forwarded_calls (id, pid) VALUES ($1, $2)`, [ctx.id, process.pid]);
      await ctx.emit(topics.audit, { kind: 'order', msg: `placed by ${process.pid}` });
      return { orderId: `pid-${process.pid}`, number: input.qty, at: new Date(7) };
    },
    { roles: ['worker'] },
  );
  fete.handle(commands.list, () => [{ orderId: `pid-${process.pid}`, sku: 'any' }], { roles: ['worker'] });
  await fete.start();
  process.on('message', async (m: WorkerIn) => {
    if (m.type === 'stop') {
      await fete.stop();
      send({ type: 'stopped' });
      process.exit(0);
    }
  });
  send({ type: 'ready' });
} catch (err) {
  send({ type: 'error', message: (err as Error).stack ?? String(err) });
  process.exit(1);
}
