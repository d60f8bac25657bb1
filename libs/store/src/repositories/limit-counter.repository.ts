import { DataSource } from 'typeorm';
import { returnedRows } from './query-result';

/** One counter: a name (`rpm:key:<id>`, `conc:team:<id>`, ...) in a fixed window. */
export interface CounterRef {
  name: string;
  windowStart: Date;
}

/**
 * Rate-limit and concurrency counters in `limit_counters`, each change a single atomic
 * statement, so replicas sharing the database never count past a limit.
 */
export class LimitCounterRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Adds one unless the counter has reached `limit`; returns the new value, or null when
   * the limit was already reached (nothing changed). `limit` must be at least 1.
   */
  async incrementBelow(counter: CounterRef, limit: number, expiresAt: Date | 'infinity'): Promise<number | null> {
    const rows: Array<{ value: string }> = await this.dataSource.query(
      `INSERT INTO limit_counters AS c (name, window_start, value, expires_at) VALUES ($1, $2, 1, $3)
       ON CONFLICT (name, window_start) DO UPDATE SET value = c.value + 1 WHERE c.value < $4
       RETURNING c.value`,
      [counter.name, counter.windowStart, expiresAt, limit],
    );
    return rows.length ? Number(rows[0].value) : null;
  }

  /** Takes one back (a refused or finished request), never below zero. */
  async decrement(counter: CounterRef): Promise<void> {
    await this.dataSource.query(`UPDATE limit_counters SET value = GREATEST(value - 1, 0) WHERE name = $1 AND window_start = $2`, [
      counter.name,
      counter.windowStart,
    ]);
  }

  /** Adds `amount` (tokens used), creating the counter as needed. */
  async add(counter: CounterRef, amount: number, expiresAt: Date): Promise<void> {
    if (amount <= 0) return;
    await this.dataSource.query(
      `INSERT INTO limit_counters AS c (name, window_start, value, expires_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name, window_start) DO UPDATE SET value = c.value + EXCLUDED.value`,
      [counter.name, counter.windowStart, Math.round(amount), expiresAt],
    );
  }

  /** Current values, in the order asked (0 for a counter with no row yet). */
  async read(counters: CounterRef[]): Promise<number[]> {
    if (counters.length === 0) return [];
    const rows: Array<{ name: string; window_start: Date; value: string }> = await this.dataSource.query(
      `SELECT c.name, c.window_start, c.value FROM limit_counters c
         JOIN unnest($1::varchar[], $2::timestamptz[]) AS t(name, ws) ON c.name = t.name AND c.window_start = t.ws`,
      [counters.map((c) => c.name), counters.map((c) => c.windowStart)],
    );
    const found = new Map(returnedRows<{ name: string; window_start: Date | string; value: string }>(rows).map((r) => [`${r.name}@${new Date(r.window_start).getTime()}`, Number(r.value)]));
    return counters.map((c) => found.get(`${c.name}@${c.windowStart.getTime()}`) ?? 0);
  }

  /** Deletes counters whose window is long over; returns how many. */
  async pruneExpired(): Promise<number> {
    const result = await this.dataSource.query(`DELETE FROM limit_counters WHERE expires_at < now()`);
    return Array.isArray(result) && typeof result[1] === 'number' ? result[1] : 0;
  }
}
