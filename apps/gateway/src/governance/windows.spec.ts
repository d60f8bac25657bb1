import { formatDuration, windowAt } from './windows';

const at = (iso: string) => Date.parse(iso);
const iso = (d: Date | null) => d?.toISOString() ?? null;

describe('windowAt', () => {
  it('aligns minutes, hours and days on UTC boundaries', () => {
    const now = at('2026-03-11T13:45:30.250Z');
    expect(iso(windowAt('minute', now).start)).toBe('2026-03-11T13:45:00.000Z');
    expect(iso(windowAt('minute', now).end)).toBe('2026-03-11T13:46:00.000Z');
    expect(iso(windowAt('hourly', now).start)).toBe('2026-03-11T13:00:00.000Z');
    expect(iso(windowAt('daily', now).start)).toBe('2026-03-11T00:00:00.000Z');
    expect(iso(windowAt('daily', now).end)).toBe('2026-03-12T00:00:00.000Z');
  });

  it('starts weeks on Monday', () => {
    // 2026-03-11 is a Wednesday; 2026-03-15 a Sunday; 2026-03-16 a Monday.
    expect(iso(windowAt('weekly', at('2026-03-11T13:00:00Z')).start)).toBe('2026-03-09T00:00:00.000Z');
    expect(iso(windowAt('weekly', at('2026-03-15T23:59:59Z')).start)).toBe('2026-03-09T00:00:00.000Z');
    expect(iso(windowAt('weekly', at('2026-03-16T00:00:00Z')).start)).toBe('2026-03-16T00:00:00.000Z');
    expect(iso(windowAt('weekly', at('2026-03-16T00:00:00Z')).end)).toBe('2026-03-23T00:00:00.000Z');
  });

  it('starts months on the 1st, across a year end', () => {
    const w = windowAt('monthly', at('2026-12-31T23:59:59Z'));
    expect(iso(w.start)).toBe('2026-12-01T00:00:00.000Z');
    expect(iso(w.end)).toBe('2027-01-01T00:00:00.000Z');
  });

  it('gives a lifetime budget one endless window', () => {
    expect(windowAt('lifetime', Date.now())).toEqual({ start: new Date(0), end: null });
  });
});

describe('formatDuration', () => {
  it('writes durations as OpenAI does', () => {
    expect(formatDuration(20)).toBe('20ms');
    expect(formatDuration(1000)).toBe('1s');
    expect(formatDuration(12_500)).toBe('12.5s');
    expect(formatDuration(360_000)).toBe('6m0s');
    expect(formatDuration(3_723_500)).toBe('1h2m3.5s');
  });
});
