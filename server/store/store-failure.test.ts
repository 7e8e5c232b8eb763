// Which store errors become STORE_FAILED (no retry will clear them) and which stay as they are.
import { describe, expect, it } from 'vitest';
import { isPermanentStoreFault, storeFailed } from './store-failure.js';

const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('store failures', () => {
  it('file-system faults, damaged data and a dead engine are permanent', () => {
    expect(isPermanentStoreFault(pgError('42501', 'could not open file "base/5/2691": Permission denied'))).toBe(true);
    expect(isPermanentStoreFault(pgError('58P01', 'could not create file "pg_wal/xlogtemp.42": File exists'))).toBe(true);
    expect(isPermanentStoreFault(pgError('53100', 'could not extend file: No space left on device'))).toBe(true);
    expect(isPermanentStoreFault(pgError('XX001', 'invalid page in block 0 of relation base/5/16384'))).toBe(true);
    expect(isPermanentStoreFault(Object.assign(new Error('EROFS: read-only file system, open'), { code: 'EROFS' }))).toBe(true);
    expect(isPermanentStoreFault(new Error('the PGlite worker thread exited (code 1)'))).toBe(true);
    expect(isPermanentStoreFault(Object.assign(new Error('unreachable'), { name: 'RuntimeError' }))).toBe(true);
  });

  it('constraint violations, SQL permission checks, syntax errors and lost connections are not', () => {
    expect(isPermanentStoreFault(pgError('23505', 'duplicate key value violates unique constraint "events_pkey"'))).toBe(false);
    expect(isPermanentStoreFault(pgError('42501', 'permission denied for table events'))).toBe(false);
    expect(isPermanentStoreFault(pgError('42601', 'syntax error at or near "SELEC"'))).toBe(false);
    expect(isPermanentStoreFault(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(isPermanentStoreFault('a string')).toBe(false);
  });

  it('STORE_FAILED is not retryable and says what to do', () => {
    const err = storeFailed(new Error('could not open file "x": Permission denied'), '/data/fete');
    expect(err).toMatchObject({ code: 'STORE_FAILED', retryable: false });
    expect(err.message).toContain('/data/fete');
    expect(err.message).toContain('Make the directory writable');
  });
});
