import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { type Request, type Response, Router } from 'express';
import type { Redis } from 'ioredis';

/** `/healthz`: the process answers. `/readyz`: Redis answers and the upload dir is writable. */
export function healthRouter(redis: Redis, uploadDir: string): Router {
  const router = Router();
  router.get('/healthz', (_req: Request, res: Response) => {
    res.json({ ok: true });
  });
  router.get('/readyz', async (_req: Request, res: Response) => {
    const [redisOk, diskOk] = await Promise.all([pingRedis(redis), probeDir(uploadDir)]);
    res.status(redisOk && diskOk ? 200 : 503).json({
      ready: redisOk && diskOk,
      checks: { redis: redisOk ? 'ok' : 'unreachable', upload_dir: diskOk ? 'ok' : 'not writable' },
    });
  });
  return router;
}

async function pingRedis(redis: Redis): Promise<boolean> {
  if (redis.status !== 'ready') return false;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), 1_000);
  });
  try {
    return await Promise.race([redis.ping().then((r) => r === 'PONG'), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

async function probeDir(dir: string): Promise<boolean> {
  const probe = path.join(dir, `.readyz-${randomBytes(4).toString('hex')}`);
  try {
    await fs.writeFile(probe, 'ok');
    return true;
  } catch {
    return false;
  } finally {
    // On a full disk the file is created but not written: remove it either way.
    await fs.rm(probe, { force: true }).catch(() => {});
  }
}
