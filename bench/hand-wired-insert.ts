// The durable write an app hand-wires before a Socket.IO broadcast, for the benchmarks' durable
// anchors (fanout `plain-pg`, scale `redis-pg`): each envelope INSERTed as one row in autocommit
// on a pool, its seq returned. No deliveries, no resume, no routing: the commit wait alone.
import type pg from 'pg';

export interface HandWiredInsert {
  /** INSERTs `envelope` (as jsonb) and resolves with its row's seq once committed. */
  insert(envelope: { topic: string }): Promise<number>;
  end(): Promise<void>;
}

/** Creates `"<schema>".events` if missing and returns the insert on a pool of `max` connections
 * (default 10). `pgModule` is the driver to use (the scale benchmark passes the one whose queries
 * it counts). */
export async function handWiredInsert(pgModule: typeof pg, url: string, schema: string, max = 10): Promise<HandWiredInsert> {
  const pool = new pgModule.Pool({ connectionString: url, max });
  const table = `"${schema}".events`;
  await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"; CREATE TABLE IF NOT EXISTS ${table} (seq bigserial PRIMARY KEY, topic text NOT NULL, envelope jsonb NOT NULL)`);
  const text = `INSERT INTO ${table} (topic, envelope) VALUES ($1, $2) RETURNING seq`;
  return {
    async insert(envelope) {
      const res = await pool.query<{ seq: string }>({ name: 'hand_wired_insert', text, values: [envelope.topic, envelope] });
      return Number(res.rows[0]!.seq);
    },
    end: () => pool.end(),
  };
}
