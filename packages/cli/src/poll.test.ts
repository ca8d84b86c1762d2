import { RelayError } from './api.js';
import { pollThroughOutages } from './poll.js';

const down = () => new RelayError('connect ECONNREFUSED 127.0.0.1:1', 'unreachable');

describe('pollThroughOutages', () => {
  it('looks until the look says done, pausing as told after each', async () => {
    const pauses: number[] = [];
    let looks = 0;
    const done = await pollThroughOutages(
      async () => ++looks === 3,
      (lookMs) => {
        pauses.push(lookMs);
        return 1;
      },
      { goesOn: 'the jobs go' },
    );
    expect(done).toBe(true);
    expect(looks).toBe(3);
    expect(pauses).toHaveLength(2);
  });

  it('survives an outage, told once, and gives up once it outlasts the limit', async () => {
    let clock = 0;
    const outages: string[] = [];
    let looks = 0;
    const survived = await pollThroughOutages(
      async () => {
        looks++;
        clock += 1_000;
        if (looks <= 3) throw down();
        return true;
      },
      () => 1,
      {
        goesOn: 'the jobs go',
        now: () => clock,
        outageLimitMs: 10_000,
        onOutage: (e) => outages.push(e.message),
      },
    );
    expect(survived).toBe(true);
    expect(outages).toEqual(['connect ECONNREFUSED 127.0.0.1:1']);

    clock = 0;
    await expect(
      pollThroughOutages(
        async () => {
          clock += 6_000;
          throw down();
        },
        () => 1,
        { goesOn: 'the batch goes', now: () => clock, outageLimitMs: 10_000 },
      ),
    ).rejects.toThrow(
      'stopped waiting: the relay has not answered for 10 s (connect ECONNREFUSED 127.0.0.1:1); the batch goes on there',
    );
  });

  it('throws an error that is no outage at once', async () => {
    const refused = new RelayError('not allowed', 'http', 403);
    await expect(
      pollThroughOutages(
        async () => {
          throw refused;
        },
        () => 1,
        { goesOn: 'the jobs go' },
      ),
    ).rejects.toBe(refused);
  });

  it('stops at once when the signal aborts during a pause', async () => {
    const stop = new AbortController();
    let looks = 0;
    const started = Date.now();
    const done = await pollThroughOutages(
      async () => {
        looks++;
        setTimeout(() => stop.abort(), 10);
        return false;
      },
      () => 60_000,
      { goesOn: 'the jobs go', signal: stop.signal },
    );
    expect(done).toBe(false);
    expect(looks).toBe(1);
    // Not a timing assertion: the pause was a minute, so it must have been cut short.
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});
