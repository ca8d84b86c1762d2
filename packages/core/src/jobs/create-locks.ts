import { createHash } from 'node:crypto';
import type { RedisClient } from '../redis.js';

/**
 * What the video of a create call whose answer was lost is looked up by: the name it was created
 * with and the `origin_url` it carried (imports Gcore pulls; null for everything else).
 */
export interface CreateIdentity {
  name: string;
  origin_url?: string | null | undefined;
}

// KEYS: the lock. ARGV: job id, TTL in ms. Taken when free, renewed when this job holds it.
const TAKE = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

// KEYS: the lock. ARGV: job id. Only its holder removes it.
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

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
    return `${this.prefix}:jobs:create-lock:${hash}`;
  }

  /** Takes the lock for `jobId` (or renews it when that job holds it already); false when another job holds it. */
  async take(identity: CreateIdentity, jobId: string, ttlMs: number): Promise<boolean> {
    const taken = await this.redis.eval(TAKE, 1, this.key(identity), jobId, Math.max(1, Math.round(ttlMs)));
    return taken === 1;
  }

  /** Frees the lock if `jobId` holds it; true when it did. */
  async release(identity: CreateIdentity, jobId: string): Promise<boolean> {
    return (await this.redis.eval(RELEASE, 1, this.key(identity), jobId)) === 1;
  }

  /** The job holding the lock, or null. */
  holder(identity: CreateIdentity): Promise<string | null> {
    return this.redis.get(this.key(identity));
  }
}
