import { createHash, timingSafeEqual } from 'node:crypto';
import { cidrMatcher, type JobRepository, type Logger, type RelayQueues } from '@gtr/core';
import type { NextFunction, Request, Response, Router } from 'express';
import getRawBody from 'raw-body';
import { closeWithoutDraining } from './auth-failures.js';
import { sendError } from './http-errors.js';
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
  /** `WEBHOOK_MAX_BODY`: the most bytes a webhook's body may have (413 beyond). Default 1 MiB. */
  maxBody?: number | undefined;
  /** How long a webhook's body may take to arrive once its headers did (408 after). Default 10 s. */
  bodyTimeoutMs?: number | undefined;
}

export interface GcoreHookDeps {
  settings: GcoreHookSettings;
  jobs: JobRepository;
  queues: Pick<RelayQueues, 'track'>;
  logger: Logger;
}

/** `WEBHOOK_MAX_BODY`'s default: Gcore's webhooks are a few hundred bytes. */
export const DEFAULT_WEBHOOK_MAX_BODY = 1024 * 1024;
/** How long a webhook's body may take once its headers are in (Node's headersTimeout bounds those). */
export const DEFAULT_WEBHOOK_BODY_TIMEOUT_MS = 10_000;
const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Gcore's status webhooks (G-Core/product-documentation
 * `streaming/extra-features/get-webhooks-from-the-streaming-platform.mdx`): one unsigned JSON POST
 * per status change, `{type: "video" | "vod" | "video_delete", message: {video: {id, status, …}}}`,
 * from 92.223.112.0/24 and 92.223.123.0/24, sent once and never retried. Nothing in the body is
 * trusted: only the video id is read, and it only makes the job's next status look (through the
 * workers' shared API pace) happen now. 202 at once for anything readable — Gcore would not send it
 * again anyway; a body over WEBHOOK_MAX_BODY is 413 and one slower than the body deadline 408, both
 * unread past that point and with the connection closed.
 */
export function gcoreHooksRouter(deps: GcoreHookDeps): Router {
  const { settings, jobs, queues, logger } = deps;
  const secret = digest(settings.pathSecret);
  const fromAllowed = settings.sources?.length ? cidrMatcher(settings.sources) : null;
  const router = strictRouter();

  const maxBody = settings.maxBody ?? DEFAULT_WEBHOOK_MAX_BODY;
  const bodyTimeoutMs = settings.bodyTimeoutMs ?? DEFAULT_WEBHOOK_BODY_TIMEOUT_MS;

  // The cheap checks first, before any byte of the body is read: the source address, then the
  // secret. Either one wrong goes on to the next routes, so it answers exactly as any unknown
  // path (401 without a token, 404 with one): nothing tells a wrong source from a wrong secret,
  // so nothing tells an attacker that a secret was right.
  const source = (req: Request, _res: Response, next: NextFunction) => {
    if (fromAllowed && !fromAllowed(req.ip)) {
      logger.debug({ ip: req.ip }, 'Gcore webhook from an address outside GCORE_WEBHOOK_SOURCES');
      next('route');
      return;
    }
    next();
  };
  const secretPath = (req: Request, _res: Response, next: NextFunction) => {
    const given = digest(String(req.params.secret ?? ''));
    next(timingSafeEqual(given, secret) ? undefined : 'route');
  };
  /** Refuses without reading the rest of the body, and closes the connection. */
  const refuse = (
    req: Request,
    res: Response,
    code: 'BODY_TOO_LARGE' | 'REQUEST_TIMEOUT',
    message: string,
  ) => {
    if (res.headersSent) return;
    closeWithoutDraining(req, res);
    sendError(res, code, message);
  };
  const tooLarge = `a webhook body is at most ${maxBody} bytes (WEBHOOK_MAX_BODY)`;
  const readBody = (req: Request, res: Response, next: NextFunction) => {
    if (Number(req.headers['content-length'] ?? 0) > maxBody) {
      refuse(req, res, 'BODY_TOO_LARGE', tooLarge);
      return;
    }
    const timer = setTimeout(
      () => refuse(req, res, 'REQUEST_TIMEOUT', `the webhook body did not arrive within ${bodyTimeoutMs} ms`),
      bodyTimeoutMs,
    );
    // raw-body stops reading at the limit (express.json would read off the whole rest first).
    getRawBody(
      req,
      { limit: maxBody, length: req.headers['content-length'] ?? null },
      (error: Error | undefined, body: Buffer) => {
        clearTimeout(timer);
        if (res.headersSent) return;
        if ((error as { type?: string } | null)?.type === 'entity.too.large') {
          refuse(req, res, 'BODY_TOO_LARGE', tooLarge);
          return;
        }
        // Unreadable (cut off, not JSON): 202 all the same — Gcore would not send it again.
        req.body = error ? null : parseJson(body);
        next();
      },
    );
  };

  router.post(`${GCORE_HOOK_PATH}/:secret`, source, secretPath, readBody, (req: Request, res: Response) => {
    res.status(202).end();
    const videoId = videoIdOf(req.body);
    if (videoId === null) return;
    void nudge(videoId).catch((error: unknown) =>
      logger.warn({ err: error, videoId }, 'Gcore webhook: could not bring the status look forward'),
    );
  });

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

/** The body as JSON, or null when it is not. */
function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
}
