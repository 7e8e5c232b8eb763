// Errors a developer meets first say what to do: a refused caller learns which credentials the
// doors read, and a feature that is off names the option that turns it on.
import { describe, expect, it } from 'vitest';
import { startServer } from './http-harness.js';

describe('error messages that say what to do', () => {
  it('an unauthenticated request is told which credentials the doors read', async () => {
    const s = await startServer({ security: { auth: ({ credentials }) => (credentials.token === 'ok' ? 'ann' : undefined) } });
    const res = await fetch(`${s.url}/stream?pattern=orders.>`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('Authorization: Bearer');
  });

  it('the inspector and metrics, when off, name the option that turns them on', async () => {
    const s = await startServer();
    const inspector = await fetch(`${s.url}/inspector/listeners`, { headers: { 'x-user': 'ann' } });
    expect(inspector.status).toBe(404);
    expect(((await inspector.json()) as { error: { message: string } }).error.message).toContain('fete.express({ inspector: { authorize');
    const metrics = await fetch(`${s.url}/metrics`);
    expect(metrics.status).toBe(404);
    expect(((await metrics.json()) as { error: { message: string } }).error.message).toContain('fete.express({ metrics:');
  });
});
