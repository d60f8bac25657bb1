import type { BudgetPeriod } from '@tokenhub/store';

/** The calendar windows TokenHub counts in, all in UTC: rate limits use minutes and days. */
export type WindowPeriod = BudgetPeriod | 'minute';

export interface Window {
  start: Date;
  /** Null for a lifetime budget: its one window never ends. */
  end: Date | null;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * The fixed, calendar-aligned window (UTC) that `nowMs` falls in: minutes, hours and days
 * start on the boundary, weeks on Monday 00:00, months on the 1st; a lifetime budget's
 * window starts at the epoch and never ends.
 */
export function windowAt(period: WindowPeriod, nowMs: number): Window {
  const floor = (size: number) => {
    const start = Math.floor(nowMs / size) * size;
    return { start: new Date(start), end: new Date(start + size) };
  };
  switch (period) {
    case 'minute':
      return floor(MINUTE);
    case 'hourly':
      return floor(HOUR);
    case 'daily':
      return floor(DAY);
    case 'weekly': {
      const day = Math.floor(nowMs / DAY) * DAY;
      const sinceMonday = (new Date(day).getUTCDay() + 6) % 7;
      const start = day - sinceMonday * DAY;
      return { start: new Date(start), end: new Date(start + 7 * DAY) };
    }
    case 'monthly': {
      const now = new Date(nowMs);
      return { start: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)), end: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)) };
    }
    case 'lifetime':
      return { start: new Date(0), end: null };
  }
}

/** A duration as OpenAI writes its `x-ratelimit-reset-*` headers: `20ms`, `1s`, `6m0s`, `1h2m3.5s`. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms));
  if (total < 1000) return `${total}ms`;
  const hours = Math.floor(total / HOUR);
  const minutes = Math.floor((total % HOUR) / MINUTE);
  const seconds = Number(((total % MINUTE) / 1000).toFixed(3));
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}
