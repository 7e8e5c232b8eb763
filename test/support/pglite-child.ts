// A fete process on a PGlite data directory, for tests that need a real second process:
//   hold <dir>   open the store, print "ready", and keep it open until killed
//   crash <dir>  emit one order, run a ledger listener that writes through ctx.tx and then hangs
//                (printing "entered"), so the parent can SIGKILL it mid-attempt
import { createFete } from '../../server/index.js';
import { topics } from '../store/suite/harness.js';

const [mode, dir] = process.argv.slice(2);
const fete = await createFete({ topics, store: { pglite: dir! }, worker: { pollIntervalMs: 50 } });
if (mode === 'hold') {
  process.stdout.write('ready\n');
  setInterval(() => undefined, 1000);
} else if (mode === 'crash') {
  await fete.transaction((tx) => tx.query('CREATE TABLE IF NOT EXISTS public.ledger (order_id text, attempt int)'));
  fete.on(topics.orderPlaced, 'ledger', async (p, ctx) => {
    await ctx.tx.query('INSERT INTO public.ledger (order_id, attempt) VALUES ($1, $2)', [p.orderId, ctx.attempt]);
    process.stdout.write('entered\n');
    await new Promise(() => undefined);
  });
  await fete.emit(topics.orderPlaced, { orderId: 'o1', total: 1 });
  await fete.start();
}
