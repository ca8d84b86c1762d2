import { randomBytes } from 'node:crypto';
import { batchIndexes, batchKeys } from '../keys.js';
import { BATCH_CREATE } from '../lua-scripts.js';
import type { RedisClient } from '../redis.js';
import { FINAL_STATES, JOB_STATES, type JobState, type PublicBatch } from './types.js';

/** What a new batch starts from. */
export interface NewBatch {
  name: string;
  owner: string | null;
}

export interface BatchListQuery {
  /** Only this owner's batches (a tool's view). */
  owner?: string | undefined;
  /** Default 50, at most 500. */
  limit?: number | undefined;
  cursor?: string | null | undefined;
}

const BATCH_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Batches in Redis: one hash each, whose counts per state the job scripts of JobRepository move
 * in the same step as the job (so they add up to `total` at every moment), and a sorted set of
 * its jobs. Jobs join a batch only when they are made (JobRepository.create with `batch`).
 */
export class BatchRepository {
  private readonly indexes: ReturnType<typeof batchIndexes>;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix = 'gtr',
    private readonly now: () => number = Date.now,
  ) {
    this.indexes = batchIndexes(prefix);
  }

  static isId(id: string): boolean {
    return BATCH_ID.test(id);
  }

  async create(batch: NewBatch): Promise<PublicBatch> {
    const id = randomBytes(8).toString('hex');
    const at = this.now();
    await BATCH_CREATE.run(
      this.redis,
      [
        batchKeys(this.prefix, id).hash,
        this.indexes.seq,
        this.indexes.all,
        this.indexes.owner(batch.owner ?? ''),
        this.indexes.finished,
      ],
      [id, batch.name, batch.owner ?? '', at],
    );
    return (await this.get(id))!;
  }

  async get(id: string): Promise<PublicBatch | null> {
    if (!BATCH_ID.test(id)) return null;
    const hash = await this.redis.hgetall(batchKeys(this.prefix, id).hash);
    return hash.id ? this.toPublic(hash) : null;
  }

  async getMany(ids: readonly string[]): Promise<PublicBatch[]> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(batchKeys(this.prefix, id).hash);
    const results = (await pipeline.exec()) ?? [];
    const out: PublicBatch[] = [];
    for (const [error, hash] of results) {
      if (error) throw error;
      const h = hash as Record<string, string>;
      if (h.id) out.push(this.toPublic(h));
    }
    return out;
  }

  /** Newest first; `cursor` is the `next` of the previous page. */
  async list(query: BatchListQuery = {}): Promise<{ items: PublicBatch[]; next: string | null }> {
    const limit = Math.min(Math.max(query.limit ?? 50, 1), 500);
    const key = query.owner === undefined ? this.indexes.all : this.indexes.owner(query.owner);
    const max = query.cursor ? `(${Number(query.cursor)}` : '+inf';
    const page = await this.redis.zrevrangebyscore(key, max, '-inf', 'WITHSCORES', 'LIMIT', 0, limit + 1);
    const ids: string[] = [];
    const seqs: string[] = [];
    for (let i = 0; i < page.length; i += 2) {
      ids.push(page[i]!);
      seqs.push(page[i + 1]!);
    }
    const more = ids.length > limit;
    const items = await this.getMany(ids.slice(0, limit));
    return { items, next: more ? seqs[limit - 1]! : null };
  }

  /** Up to `limit` of the batch's job ids with their sequence, oldest first, after `afterSeq`. */
  async jobIds(
    id: string,
    afterSeq: number | null,
    limit = 500,
  ): Promise<Array<{ id: string; seq: number }>> {
    const page = await this.redis.zrangebyscore(
      batchKeys(this.prefix, id).jobs,
      afterSeq === null ? '-inf' : `(${afterSeq}`,
      '+inf',
      'WITHSCORES',
      'LIMIT',
      0,
      limit,
    );
    const out: Array<{ id: string; seq: number }> = [];
    for (let i = 0; i < page.length; i += 2) out.push({ id: page[i]!, seq: Number(page[i + 1]) });
    return out;
  }

  /** Batches with nothing left to do since before `before` (epoch ms), oldest first. */
  async finishedBefore(before: number, limit = 10): Promise<string[]> {
    return this.redis.zrangebyscore(this.indexes.finished, '-inf', before, 'LIMIT', 0, limit);
  }

  /** Forgets the batch itself (its jobs are removed first, by the caller, through JobRepository). */
  async forget(id: string): Promise<void> {
    const keys = batchKeys(this.prefix, id);
    const owner = await this.redis.hget(keys.hash, 'owner');
    await this.redis
      .multi()
      .del(keys.hash, keys.jobs)
      .zrem(this.indexes.all, id)
      .zrem(this.indexes.owner(owner ?? ''), id)
      .zrem(this.indexes.finished, id)
      .exec();
  }

  private toPublic(hash: Record<string, string>): PublicBatch {
    const n = (field: string) => Number(hash[field] ?? 0) || 0;
    const counts = Object.fromEntries(JOB_STATES.map((s) => [s, n(`n:${s}`)])) as Record<JobState, number>;
    const total = n('total');
    const createdAt = n('created_at');
    const finishedAt = hash.finished_at ? Number(hash.finished_at) : null;
    const done = FINAL_STATES.reduce((sum, s) => sum + counts[s], 0);
    const elapsedMin = Math.max(((finishedAt ?? this.now()) - createdAt) / 60_000, 1 / 60);
    const rate = done > 0 ? done / elapsedMin : null;
    const remaining = total - done;
    return {
      id: hash.id!,
      name: hash.name ?? '',
      owner: hash.owner ? hash.owner : null,
      total,
      counts,
      bytes: { total: n('bytes'), ready: n('bytes_ready') },
      created_at: new Date(createdAt).toISOString(),
      last_activity_at: new Date(n('last_at') || createdAt).toISOString(),
      finished_at: finishedAt === null ? null : new Date(finishedAt).toISOString(),
      rate_per_minute: rate === null ? null : Math.round(rate * 10) / 10,
      eta_seconds:
        finishedAt !== null || (total > 0 && remaining === 0)
          ? 0
          : rate === null
            ? null
            : Math.round((remaining / rate) * 60),
    };
  }
}
