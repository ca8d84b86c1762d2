import { createHash } from 'node:crypto';
import { COMPARE_AND_DELETE, defineScripts, type RedisClient, relayKeys } from '@gtr/core';
import type { ChainableCommander } from 'ioredis';
import { CLAIM_REPLACE, CLAIM_SETTLE } from '../lua-scripts.js';

/**
 * The form an origin URL is compared (and stored) in: scheme and host lower-cased, default
 * port dropped, dot segments resolved (all by the WHATWG parser), fragment dropped (never sent
 * over HTTP). The query stays as it is: it often is what tells two files apart.
 */
export function normalizeOriginUrl(input: string | URL): string {
  const url = new URL(String(input));
  url.hash = '';
  return url.href;
}

/**
 * What names an import for idempotency: the tool's `idempotency_key` when it gave one, else the
 * normalized origin URL. The two cannot collide: a normalized URL always starts with `http`.
 */
export function importIdentity(
  intent: { originUrl: string; idempotencyKey: string | null },
  /** A tool's imports are its own: the same URL from another tool is another job. */
  scope: string | null = null,
): string {
  const identity = intent.idempotencyKey === null ? intent.originUrl : `key:${intent.idempotencyKey}`;
  return scope === null ? identity : `owner:${scope}\n${identity}`;
}

/** What a claim key holds. */
export interface Claim {
  /** The job id that owns the URL, or null when nobody does. */
  id: string | null;
  /**
   * Whether the claim is final (its job was created). A claim that is not final is a lease
   * taken just before creating the job: it expires by itself if that process died.
   */
  settled: boolean;
}

export interface ClaimRequest {
  key: string;
  /** The new job's id. */
  id: string;
  /** Take the key over from this job (a canceled or vanished one); null: only if nobody holds it. */
  replacing: string | null;
}

/**
 * One Redis key per import identity (`<prefix>:imports:url:<sha256>`, see importIdentity) naming
 * the job that imports it, so the same URL (or idempotency key) never makes a second Gcore video.
 * Every method takes many keys and answers in one round trip.
 */
export class ImportClaims {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    /** How long a claim may stay unsettled. Default 60 s. */
    private readonly leaseMs = 60_000,
  ) {
    // Pipelines made from the connection carry the scripts defined on it by then.
    defineScripts(redis, [CLAIM_REPLACE, CLAIM_SETTLE, COMPARE_AND_DELETE]);
  }

  /** The claim key of an identity (see importIdentity). */
  key(identity: string): string {
    return relayKeys(this.prefix).importClaim(createHash('sha256').update(identity).digest('hex'));
  }

  async lookup(keys: readonly string[]): Promise<Claim[]> {
    if (keys.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const key of keys) pipeline.get(key).pttl(key);
    const results = await run(pipeline);
    return keys.map((_, i) => {
      const id = results[2 * i] as string | null;
      return { id, settled: id !== null && results[2 * i + 1] === -1 };
    });
  }

  /** Takes each key for its new job; `false` where someone else holds it (or took it first). */
  async claim(requests: readonly ClaimRequest[]): Promise<boolean[]> {
    if (requests.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const r of requests) {
      if (r.replacing === null) pipeline.set(r.key, r.id, 'PX', this.leaseMs, 'NX');
      else CLAIM_REPLACE.queue(pipeline, [r.key], [r.id, r.replacing, this.leaseMs]);
    }
    return (await run(pipeline)).map((result) => result === 'OK' || result === 1);
  }

  /** The jobs exist now: their claims stop expiring. */
  async settle(claims: readonly { key: string; id: string }[]): Promise<void> {
    if (claims.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const c of claims) CLAIM_SETTLE.queue(pipeline, [c.key], [c.id]);
    await run(pipeline);
  }

  /** Gives keys back when their jobs could not be created. */
  async release(claims: readonly { key: string; id: string }[]): Promise<void> {
    if (claims.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const c of claims) COMPARE_AND_DELETE.queue(pipeline, [c.key], [c.id]);
    await run(pipeline);
  }
}

async function run(pipeline: ChainableCommander): Promise<unknown[]> {
  const results = (await pipeline.exec()) ?? [];
  return results.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}
