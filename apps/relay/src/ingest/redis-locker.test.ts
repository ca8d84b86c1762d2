import { createRedis, FleetTask, Lease, lockKeys } from '@gtr/core';
import { deleteKeys, testPrefix, testRedisUrl, waitFor } from '@gtr/core/testing';
import { ERRORS, type Lock } from '@tus/utils';
import type { Redis } from 'ioredis';
import { RedisLocker, type RedisLockerOptions } from './redis-locker.js';

/*
 * Two lockers on two Redis connections stand for two relays: what one holds, the other waits
 * for; a release request reaches the holder on the other one; a holder that dies frees the lock
 * when its lease ends; a late release never frees someone else's lock.
 */
describe('RedisLocker: @tus/server locks across relays', () => {
  const prefix = testPrefix();
  const connections: Redis[] = [];
  const lockers: RedisLocker[] = [];
  const connect = () => {
    const redis = createRedis(testRedisUrl(), { role: 'client' });
    connections.push(redis);
    return redis;
  };
  const relay = (options: Partial<RedisLockerOptions> = {}) => {
    const locker = new RedisLocker({ redis: connect(), prefix, ...options });
    lockers.push(locker);
    return locker;
  };
  const never = () => new AbortController().signal;

  afterAll(async () => {
    await Promise.all(lockers.map((l) => l.close()));
    await deleteKeys(connections[0]!, prefix);
    await Promise.all(connections.map((r) => r.quit()));
  });

  it('lets one holder at a time have an upload, and asks the holder on the other relay to let go', async () => {
    const [a, b] = [relay(), relay()];
    const events: string[] = [];
    const first = a.newLock('u1');
    let releaseAsked = 0;
    await first.lock(never(), async () => {
      // What @tus/server's requestRelease leads to: the holder's request ends, then unlocks.
      releaseAsked++;
      if (releaseAsked > 1) return;
      events.push('a asked to release');
      await new Promise((r) => setTimeout(r, 100));
      events.push('a unlocks');
      await first.unlock();
    });
    events.push('a holds');
    const second = b.newLock('u1');
    await second.lock(never(), () => {});
    events.push('b holds');
    expect(events).toEqual(['a holds', 'a asked to release', 'a unlocks', 'b holds']);
    // While b holds it, a third request (back on relay a) waits as well.
    const third = a.newLock('u1');
    let thirdHolds = false;
    const waiting = third
      .lock(never(), () => {})
      .then(() => {
        thirdHolds = true;
      });
    await new Promise((r) => setTimeout(r, 200));
    expect(thirdHolds).toBe(false);
    await second.unlock();
    await waiting;
    expect(thirdHolds).toBe(true);
    await third.unlock();
  });

  it('asks only the holder of that upload', async () => {
    const [a, b] = [relay(), relay()];
    const asked: string[] = [];
    const held: Lock[] = [];
    for (const id of ['x1', 'x2']) {
      const lock = a.newLock(id);
      await lock.lock(never(), async () => {
        asked.push(id);
        await lock.unlock();
      });
      held.push(lock);
    }
    const other = b.newLock('x2');
    await other.lock(never(), () => {});
    expect(asked).toEqual(['x2']);
    await other.unlock();
    await held[0]!.unlock();
  });

  it('fails with ERR_LOCK_TIMEOUT, as MemoryLocker does, when the holder does not let go in time', async () => {
    const [a, b] = [relay(), relay({ acquireLockTimeout: 400 })];
    const holder = a.newLock('stuck');
    let asked = 0;
    await holder.lock(never(), () => {
      asked++;
    });
    await expect(b.newLock('stuck').lock(never(), () => {})).rejects.toBe(ERRORS.ERR_LOCK_TIMEOUT);
    expect(asked).toBeGreaterThanOrEqual(1);
    // A waiting request whose own request ended gives up too.
    const stop = new AbortController();
    const waiting = relay()
      .newLock('stuck')
      .lock(stop.signal, () => {});
    stop.abort();
    await expect(waiting).rejects.toBe(ERRORS.ERR_LOCK_TIMEOUT);
    await holder.unlock();
  });

  it('frees the lock of a relay that died when its lease ends, and its late unlock frees nothing', async () => {
    const [a, b] = [relay({ leaseMs: 400 }), relay({ leaseMs: 400 })];
    const dead = a.newLock('orphan');
    let deadAsked = 0;
    await dead.lock(never(), () => {
      deadAsked++;
    });
    await a.simulateDeath();
    const next = b.newLock('orphan');
    await next.lock(never(), () => {});
    expect(deadAsked).toBe(0);
    // The dead holder's compare-and-delete runs against b's token and leaves b's lock alone.
    await dead.unlock();
    expect(await b.tryLock('orphan')).toBeNull();
    await next.unlock();
    const after = await b.tryLock('orphan');
    expect(after).not.toBeNull();
    await after!.release();
  });

  it('renews the lease while a request runs, far beyond one lease', async () => {
    const [a, b] = [relay({ leaseMs: 300 }), relay({ leaseMs: 300 })];
    const lock = a.newLock('long');
    await lock.lock(never(), () => {});
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await b.tryLock('long')).toBeNull();
    await lock.unlock();
  });

  it('stops the holder whose lease was taken from it', async () => {
    const a = relay({ leaseMs: 300 });
    const lock = a.newLock('stolen');
    let stopped = false;
    await lock.lock(never(), () => {
      stopped = true;
    });
    await connections[0]!.set(lockKeys.upload(prefix, 'stolen'), 'someone-else', 'PX', 5_000);
    await waitFor(() => (stopped ? true : undefined), { timeoutMs: 5_000, what: 'requestRelease' });
    await lock.unlock();
    // compare-and-delete: the intruder's key is still there.
    expect(await connections[0]!.get(lockKeys.upload(prefix, 'stolen'))).toBe('someone-else');
  });

  it('maintenance takes a free upload at once and skips a held one without asking anyone', async () => {
    const [a, b] = [relay(), relay()];
    const lock = a.newLock('busy');
    let asked = false;
    await lock.lock(never(), () => {
      asked = true;
    });
    expect(await b.tryLock('busy')).toBeNull();
    const free = await b.tryLock('idle');
    expect(free).not.toBeNull();
    await free!.release();
    await new Promise((r) => setTimeout(r, 100));
    expect(asked).toBe(false);
    await lock.unlock();
  });
});

describe('Lease and FleetTask', () => {
  const prefix = testPrefix();
  const one = createRedis(testRedisUrl());
  const two = createRedis(testRedisUrl());

  afterAll(async () => {
    await deleteKeys(one, prefix);
    await Promise.all([one.quit(), two.quit()]);
  });

  it('compare-and-delete never frees another holder’s key', async () => {
    const key = `${prefix}:k`;
    const first = new Lease(one, key, { leaseMs: 200 });
    expect(await first.acquire()).toBeNull();
    first.abandon();
    const second = new Lease(two, key, { leaseMs: 5_000 });
    expect(await second.acquire()).toBe(first.token);
    await waitFor(async () => ((await one.exists(key)) === 0 ? true : undefined), {
      what: 'the lease to end',
    });
    const third = new Lease(two, key, { leaseMs: 5_000 });
    expect(await third.acquire()).toBeNull();
    expect(await first.release()).toBe(false);
    expect(await one.get(key)).toBe(third.token);
    expect(await third.release()).toBe(true);
  });

  it('runs a fleet task on one process at a time, and skips scheduled passes for a period after one', async () => {
    const a = new FleetTask(one, prefix, 'sweep', { periodMs: 60_000 });
    const b = new FleetTask(two, prefix, 'sweep', { periodMs: 60_000 });
    let release!: () => void;
    const running = a.run(() => new Promise<string>((r) => (release = () => r('a'))), 'now');
    await waitFor(async () => ((await one.exists(lockKeys.task(prefix, 'sweep'))) ? true : undefined));
    expect(await b.run(async () => 'b', 'now')).toBeNull();
    release();
    expect(await running).toBe('a');
    expect(await b.run(async () => 'b', 'scheduled')).toBeNull();
    expect(await b.run(async () => 'b', 'now')).toBe('b');
  });
});
