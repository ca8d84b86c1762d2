import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { type RedisClient, relayKeys } from '@gtr/core';
import type { Request, Response, Router } from 'express';
import { strictRouter } from './routing.js';

/** What `/readyz` says about Redis. */
export type RedisReadiness = 'ok' | 'unreachable' | 'read-only';

/**
 * `/healthz`: the process answers. `/readyz`: the relay can write a job (a write and a read of a
 * short-lived key under the prefix, on the primary the connection uses) and the upload dir is
 * writable.
 */
export function healthRouter(redis: RedisClient, uploadDir: string, prefix: string): Router {
  const router = strictRouter();
  router.get('/healthz', (_req: Request, res: Response) => {
    res.json({ ok: true });
  });
  router.get('/readyz', async (_req: Request, res: Response) => {
    const [redisState, diskOk] = await Promise.all([probeRedis(redis, prefix), probeDir(uploadDir)]);
    const ready = redisState === 'ok' && diskOk;
    res.status(ready ? 200 : 503).json({
      ready,
      checks: { redis: redisState, upload_dir: diskOk ? 'ok' : 'not writable' },
    });
  });
  return router;
}

/**
 * A real write round trip: SET with a short expiry, then GET of the same key. A PING passes on a
 * read-only replica and on a cluster whose slots the relay cannot use; this does not.
 */
export async function probeRedis(
  redis: RedisClient,
  prefix: string,
  timeoutMs = 1_000,
): Promise<RedisReadiness> {
  if (redis.status !== 'ready') return 'unreachable';
  const key = relayKeys(prefix).readyz(randomBytes(8).toString('hex'));
  const token = randomBytes(8).toString('hex');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<RedisReadiness>((resolve) => {
    timer = setTimeout(() => resolve('unreachable'), timeoutMs);
  });
  const roundTrip = (async (): Promise<RedisReadiness> => {
    await redis.set(key, token, 'PX', 10_000);
    return (await redis.get(key)) === token ? 'ok' : 'unreachable';
  })().catch((error: unknown) =>
    error instanceof Error && /^READONLY\b/.test(error.message) ? 'read-only' : 'unreachable',
  );
  try {
    return await Promise.race([roundTrip, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function probeDir(dir: string): Promise<boolean> {
  const probe = path.join(dir, `.readyz-${randomBytes(4).toString('hex')}`);
  try {
    await fs.writeFile(probe, 'ok', { mode: 0o600 });
    return true;
  } catch {
    return false;
  } finally {
    // On a full disk the file is created but not written: remove it either way.
    await fs.rm(probe, { force: true }).catch(() => {});
  }
}
