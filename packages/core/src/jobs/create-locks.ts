import { createHash } from 'node:crypto';
import { jobKeys } from '../keys.js';
import { COMPARE_AND_DELETE, CREATE_LOCK_TAKE } from '../lua-scripts.js';
import type { RedisClient } from '../redis.js';

/**
 * What the video of a create call whose answer was lost is looked up by: the name it was created
 * with and the `origin_url` it carried (imports Gcore pulls; null for everything else).
 */
export interface CreateIdentity {
  name: string;
  origin_url?: string | null | undefined;
}

/**
 * At most one unrecorded Gcore create per {@link CreateIdentity} in the whole fleet: a job holds
 * the identity's lock (`<prefix>:jobs:create-lock:<sha256>`, under the prefix's hash tag, so one
 * slot on a Redis Cluster) from before its create call until the video's id is recorded (or the
 * call was refused). Looking up the video of a lost answer happens under the lock too, so the only
 * video of that identity that no job has recorded is this job's. The lock names its job, so a
 * retry of the same job takes it again; a TTL frees it when its holder died.
 */
export class CreateLocks {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  key(identity: CreateIdentity): string {
    const hash = createHash('sha256')
      .update(JSON.stringify([identity.name, identity.origin_url ?? null]))
      .digest('hex');
    return jobKeys(this.prefix).createLock(hash);
  }

  /** Takes the lock for `jobId` (or renews it when that job holds it already); false when another job holds it. */
  async take(identity: CreateIdentity, jobId: string, ttlMs: number): Promise<boolean> {
    const taken = await CREATE_LOCK_TAKE.run(
      this.redis,
      [this.key(identity)],
      [jobId, Math.max(1, Math.round(ttlMs))],
    );
    return taken === 1;
  }

  /** Frees the lock if `jobId` holds it; true when it did. */
  async release(identity: CreateIdentity, jobId: string): Promise<boolean> {
    return (await COMPARE_AND_DELETE.run(this.redis, [this.key(identity)], [jobId])) === 1;
  }

  /** The job holding the lock, or null. */
  holder(identity: CreateIdentity): Promise<string | null> {
    return this.redis.get(this.key(identity));
  }
}
