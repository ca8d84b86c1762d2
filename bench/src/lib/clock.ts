/**
 * Epoch milliseconds with sub-millisecond resolution. Every bench process uses it, so times taken
 * in different processes on one machine can be subtracted (they share the system clock).
 */
export function now(): number {
  return performance.timeOrigin + performance.now();
}
