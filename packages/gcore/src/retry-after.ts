/** Longest wait a server can impose through `Retry-After`; beyond this a caller should reschedule, not sleep. */
export const MAX_RETRY_AFTER_MS = 10 * 60_000;

/** Anything with a case-insensitive `get`, such as fetch's `Headers`. */
export interface HeaderGetter {
  get(name: string): string | null;
}

/**
 * How long a 429/503 answer asks the caller to wait, in milliseconds, or `undefined` when it does
 * not say. Reads `retry-after-ms` (milliseconds, which Gcore's SDKs honour) before `Retry-After`
 * (seconds, possibly fractional, or an HTTP date). Clamped to 0..{@link MAX_RETRY_AFTER_MS}.
 */
export function parseRetryAfter(headers: HeaderGetter, now: number = Date.now()): number | undefined {
  const ms = parseNumber(headers.get('retry-after-ms'));
  if (ms !== undefined) return clamp(ms);

  const value = headers.get('retry-after')?.trim();
  if (!value) return undefined;
  const seconds = parseNumber(value);
  if (seconds !== undefined) return clamp(seconds * 1000);
  // Only a date with letters in it: Date.parse would otherwise read "12" or "1.5.2024" as a date.
  if (!/[a-z]/i.test(value)) return undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : clamp(date - now);
}

function parseNumber(value: string | null | undefined): number | undefined {
  if (value == null || !/^\s*\d+(?:\.\d+)?\s*$/.test(value)) return undefined;
  return Number(value);
}

function clamp(ms: number): number {
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, Math.ceil(ms)));
}
