import { redactQueryValues, redactSecretParams } from '@gtr/core';

/** Keys whose value is a callback URL: the tool's own secrets may sit anywhere in its query string. */
const CALLBACK_KEYS = new Set(['url', 'callback_url', 'callbackUrl']);

/**
 * Job data (and return values) as bull-board shows them: a notify job's `url` and any
 * `callback_url` without their query values, and secret-named parameters (`token`, `X-Amz-*`…)
 * of every other URL in it redacted. The queue's data itself is untouched.
 */
export function redactBoardData(data: unknown): unknown {
  return redact(data, undefined, 0);
}

function redact(value: unknown, key: string | undefined, depth: number): unknown {
  if (typeof value === 'string') {
    return key !== undefined && CALLBACK_KEYS.has(key) ? redactQueryValues(value) : redactSecretParams(value);
  }
  if (typeof value !== 'object' || value === null || depth > 20) return value;
  if (Array.isArray(value)) return value.map((item) => redact(item, undefined, depth + 1));
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, redact(v, k, depth + 1)]),
  );
}
