import { forEachLimit, sleep } from './async.js';

describe('sleep', () => {
  it('rejects with the reason of the signal that aborts it', async () => {
    const stop = new AbortController();
    const reason = new Error('shutting down');
    const waiting = sleep(60_000, stop.signal);
    stop.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    await expect(sleep(10, AbortSignal.abort(reason))).rejects.toBe(reason);
    await expect(sleep(1)).resolves.toBeUndefined();
  });
});

describe('forEachLimit', () => {
  it('runs every item, never more than the limit at once', async () => {
    let running = 0;
    let most = 0;
    const seen: number[] = [];
    await forEachLimit([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      running++;
      most = Math.max(most, running);
      await sleep(5);
      seen.push(n);
      running--;
    });
    expect(seen.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(most).toBe(3);
  });

  it('rejects with the first failure', async () => {
    const failure = new Error('item 2 failed');
    await expect(
      forEachLimit([1, 2, 3], 2, async (n) => {
        if (n === 2) throw failure;
      }),
    ).rejects.toBe(failure);
  });
});
