import { sleep } from '../async.js';
import { relayKeys } from '../keys.js';
import { PACER_PUSH_BACK, PACER_TAKE } from '../lua-scripts.js';
import type { RedisClient } from '../redis.js';

/**
 * The shared pace of Gcore API requests (GCORE_API_RPS) for every worker process: `take()`
 * resolves when this caller's slot comes; `pushBack(ms)` moves every later slot past a 429's wait.
 * One shared "next free slot" timestamp in Redis, advanced by 1/rps for each request (see
 * lua/pacer-take.lua): requests are spaced evenly across every process, so no sliding one-second
 * window ever holds more than the ceiling (a fixed-window counter would allow twice the ceiling
 * across a window boundary).
 */
export class ApiPacer {
  private readonly intervalMs: number;

  constructor(
    private readonly redis: RedisClient,
    requestsPerSecond: number,
    private readonly key = relayKeys('gtr').gcorePace,
  ) {
    // 10 % slack: requests leave on their slots but a busy event loop wakes some late, and a
    // ceiling is a ceiling at the receiving end too (measured: 5 % let 5/s through at 4/s under load).
    this.intervalMs = Math.max(1, Math.ceil((1000 / requestsPerSecond) * 1.1));
  }

  /** Waits for this caller's slot; resolves with how long the slot was ahead (ms). */
  async take(signal?: AbortSignal): Promise<number> {
    const waitMs = Number(await PACER_TAKE.run(this.redis, [this.key], [this.intervalMs]));
    if (waitMs > 0) await sleep(waitMs, signal);
    return waitMs;
  }

  /** How far ahead the next free slot is now (ms; 0 when a request could go at once). */
  async ahead(): Promise<number> {
    const [next, [seconds, micros]] = await Promise.all([
      this.redis.get(this.key),
      this.redis.time() as Promise<[number, number]>,
    ]);
    return Math.max(0, Number(next ?? 0) - (Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)));
  }

  async pushBack(ms: number): Promise<void> {
    if (ms > 0) await PACER_PUSH_BACK.run(this.redis, [this.key], [Math.ceil(ms)]);
  }
}
