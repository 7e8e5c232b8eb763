// A command or query that fails by surprise (a handler's bug, its deadline, the store) is an
// operator's business: it is logged through the `logger` once, with its name, id and error, while
// the caller sees only INTERNAL's generic message. Answers on purpose (REJECTED, a bad input,
// FORBIDDEN, NO_HANDLER) are the caller's business and are not logged.
import { describe, expect, it } from 'vitest';
import { createFete } from '../../server/index.js';
import { uuidv7 } from '../../shared/index.js';
import { topics } from '../store/suite/harness.js';
import { listOrders, placeOrder } from './commands-suite.js';

function recordingLogger() {
  const lines: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
  const at = (level: string) => (fields: Record<string, unknown>, message: string) => void lines.push({ level, fields, message });
  return { lines, logger: { info: at('info'), warn: at('warn'), error: at('error') } };
}

describe('command failures in the log', () => {
  it("a handler's unexpected throw is logged as command-failed with name, id and error; deliberate answers are not logged", async () => {
    const { lines, logger } = recordingLogger();
    const fete = await createFete({ topics, dispatch: 'inline', logger });
    try {
      fete.handle(placeOrder, (input, ctx) => {
        if (input.sku === 'none') return ctx.reject('OUT_OF_STOCK');
        throw new Error('payments db: connection refused');
      });
      fete.handle(listOrders, () => {
        throw new TypeError('rows is undefined');
      });
      const id = uuidv7();
      const err = await fete.execute(placeOrder, { sku: 'tea', qty: 1 }, { id }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'INTERNAL' });
      await expect(fete.query(listOrders, {})).rejects.toMatchObject({ code: 'INTERNAL' });
      await expect(fete.execute(placeOrder, { sku: 'none', qty: 1 })).rejects.toMatchObject({ code: 'REJECTED' });
      await expect(fete.execute(placeOrder, { sku: '', qty: -1 } as never)).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
      const failed = lines.filter((l) => l.fields.event === 'command-failed');
      expect(failed).toHaveLength(2);
      expect(failed[0]).toMatchObject({ level: 'error', fields: { kind: 'command', name: 'orders.place', id, code: 'INTERNAL' } });
      expect(String(failed[0]!.fields.error)).toContain('payments db: connection refused');
      expect(failed[1]).toMatchObject({ level: 'error', fields: { kind: 'query', name: 'orders.list', code: 'INTERNAL' } });
      expect(String(failed[1]!.fields.error)).toContain('rows is undefined');
      expect(lines.filter((l) => l.fields.event !== 'command-failed')).toEqual([]);
    } finally {
      await fete.stop();
    }
  });
});
