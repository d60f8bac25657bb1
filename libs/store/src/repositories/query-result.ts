// Not re-exported from the store's index: helpers for repositories only.

/**
 * `DataSource.query` answers an UPDATE ... RETURNING with `[rows, count]` on the pg driver
 * and with the rows on PGlite's; either way, how many rows came back.
 */
export function rowCount(result: unknown): number {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[1];
  return Array.isArray(result) ? result.length : 0;
}

export function returnedRows<T>(result: unknown): T[] {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[0] as T[];
  return Array.isArray(result) ? (result as T[]) : [];
}
