import { setTimeout as delay } from 'node:timers/promises';

/** Waits `ms`; when `signal` aborts first, rejects with the signal's reason (as a fetch does). */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, signal ? { signal } : {});
  } catch (error) {
    throw signal?.aborted ? signal.reason : error;
  }
}

/**
 * Runs `fn` on every item, at most `limit` at once, in order of the items; resolves when all are
 * done, rejects with the first failure (the calls already running finish on their own).
 */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
