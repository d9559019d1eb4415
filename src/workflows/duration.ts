/**
 * Durations of approval `timeout`s (spec: workflows.md §Timeouts): one or more
 * `<number><unit>` with units ns, us (µs), ms, s, m, h — `72h`, `1h30m`, `1.5h`,
 * `90s`. No days, no sign. Returns milliseconds, or undefined when unparseable.
 */
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
/**
 * The longest duration the syntax's origin (Go's time.Duration, int64 nanoseconds ≈ 2562047h) can hold: a longer
 * one is unparseable there, and here it would be a deadline no date can hold (the instance could not be stored).
 */
const MAX_MS = 9_223_372_036_854.775;

export function parseDuration(text: unknown): number | undefined {
  if (typeof text !== 'string' || text === '') return undefined;
  if (text === '0') return 0;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const at = PART.lastIndex;
    const m = PART.exec(text);
    if (!m || m.index !== at) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  return Number.isFinite(total) && total <= MAX_MS ? total : undefined;
}
