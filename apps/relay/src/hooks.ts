import { createHash, timingSafeEqual } from 'node:crypto';
import { cidrMatcher, type JobRepository, type Logger, type RelayQueues } from '@gtr/core';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { sendAuthError } from './auth-failures.js';
import { strictRouter } from './routing.js';

/** Where Gcore POSTs: `/hooks/gcore/<GCORE_WEBHOOK_PATH_SECRET>`. */
export const GCORE_HOOK_PATH = '/hooks/gcore';

/** How long after the latest webhook the workers count on them (and poll less). */
export const WEBHOOK_FRESH_MS = 10 * 60_000;

export interface GcoreHookSettings {
  /** The secret last path segment; the route exists only with one. */
  pathSecret: string;
  /** CIDRs the route accepts (`req.ip`); other addresses get 403. Default: any. */
  sources?: readonly string[] | undefined;
}

export interface GcoreHookDeps {
  settings: GcoreHookSettings;
  jobs: JobRepository;
  queues: Pick<RelayQueues, 'track'>;
  logger: Logger;
}

const parseJson = express.json({ limit: '64kb', type: () => true });
const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Gcore's status webhooks (G-Core/product-documentation
 * `streaming/extra-features/get-webhooks-from-the-streaming-platform.mdx`): one unsigned JSON POST
 * per status change, `{type: "video" | "vod" | "video_delete", message: {video: {id, status, …}}}`,
 * from 92.223.112.0/24 and 92.223.123.0/24, sent once and never retried. Nothing in the body is
 * trusted: only the video id is read, and it only makes the job's next status look (through the
 * workers' shared API pace) happen now. Always 202, at once — Gcore would not send it again anyway.
 */
export function gcoreHooksRouter(deps: GcoreHookDeps): Router {
  const { settings, jobs, queues, logger } = deps;
  const secret = digest(settings.pathSecret);
  const fromAllowed = settings.sources?.length ? cidrMatcher(settings.sources) : null;
  const router = strictRouter();

  // A wrong secret goes on to the next routes: it answers exactly as any unknown path (401/404).
  const secretPath = (req: Request, _res: Response, next: NextFunction) => {
    const given = digest(String(req.params.secret ?? ''));
    next(timingSafeEqual(given, secret) ? undefined : 'route');
  };
  const source = (req: Request, res: Response, next: NextFunction) => {
    if (fromAllowed && !fromAllowed(req.ip)) {
      sendAuthError(req, res, 'FORBIDDEN', 'this address may not send webhooks');
      return;
    }
    next();
  };

  router.post(
    `${GCORE_HOOK_PATH}/:secret`,
    secretPath,
    source,
    (req: Request, res: Response, next: NextFunction) => {
      // Unreadable or too big (over 64 KB; Gcore's are a few hundred bytes): 202 all the same.
      parseJson(req, res, (error?: unknown) => (error ? void res.status(202).end() : next()));
    },
    (req: Request, res: Response) => {
      res.status(202).end();
      const videoId = videoIdOf(req.body);
      if (videoId === null) return;
      void nudge(videoId).catch((error: unknown) =>
        logger.warn({ err: error, videoId }, 'Gcore webhook: could not bring the status look forward'),
      );
    },
  );

  const nudge = async (videoId: number) => {
    await jobs.noteWebhook(WEBHOOK_FRESH_MS);
    const id = await jobs.jobOfVideo(videoId);
    if (id === null) return;
    const record = await jobs.get(id);
    if (record?.state !== 'processing' || record.progress.video_id !== videoId) return;
    const track = await queues.track.getJob(id);
    if (!track || (await track.getState()) !== 'delayed') return;
    // Promoting a job that just left `delayed` (another webhook, its timer) fails harmlessly.
    await track.promote().catch(() => {});
    logger.debug({ jobId: id, videoId }, 'Gcore webhook: status look now');
  };

  return router;
}

/** `message.video.id` when it is a positive whole number, else null. */
function videoIdOf(body: unknown): number | null {
  const message = (body as { message?: { video?: { id?: unknown } } } | null)?.message;
  const id = message?.video?.id;
  return typeof id === 'number' && Number.isSafeInteger(id) && id > 0 ? id : null;
}
