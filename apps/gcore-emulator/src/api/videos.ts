import express, { type Request, type Response, Router } from 'express';
import type { VideoEntity, VideoStatus } from '../catalog.js';
import type { EmulatorContext } from '../context.js';
import { isEveryNth } from '../faults.js';
import { type FieldErrors, readVideoFields, unwrapVideo, type VideoInput } from './fields.js';
import { videoJson } from './video-json.js';

/** Gcore's limit on one batch create. */
export const BATCH_MAX = 500;
const PER_PAGE_DEFAULT = 25;
const PER_PAGE_MAX = 100;
const STATUSES: readonly VideoStatus[] = ['empty', 'pending', 'viewable', 'ready', 'error'];

function unprocessable(res: Response, errors: FieldErrors | Record<string, unknown>): void {
  res.status(422).json({ errors });
}

function notFound(res: Response): void {
  res.status(404).json({ message: 'Not found.' });
}

function positiveInt(value: unknown, fallback: number): number {
  const n = Number(value);
  return typeof value === 'string' && Number.isInteger(n) && n > 0 ? n : fallback;
}

/**
 * The attributes `fields` may name on `GET /streaming/videos`, as Gcore's OpenAPI file lists them
 * (`get_api_videos`): "id, name, duration, status, created_at, updated_at, hls_url, screenshots,
 * converted_videos, priority, stream_id". Others (`error`, `dash_url`, `origin_url`, …) cannot be
 * asked for; what Gcore does with them is undocumented, so the emulator ignores them.
 */
export const LIST_FIELDS: readonly string[] = [
  'id',
  'name',
  'duration',
  'status',
  'created_at',
  'updated_at',
  'hls_url',
  'screenshots',
  'converted_videos',
  'priority',
  'stream_id',
];

function listFields(value: unknown): string[] | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const names = value.split(',').map((name) => name.trim());
  const known = LIST_FIELDS.filter((name) => names.includes(name));
  return known.length > 0 ? known : undefined;
}

function pick(json: Record<string, unknown>, fields: string[]): Record<string, unknown> {
  return Object.fromEntries(fields.filter((f) => f in json).map((f) => [f, json[f]]));
}

function queryStrings(req: Request): Record<string, string> {
  return Object.fromEntries(
    Object.entries(req.query).flatMap(([k, v]) => (typeof v === 'string' ? [[k, v]] : [])),
  );
}

function orderBatch<T>(items: T[], order: 'request' | 'reversed' | 'shuffled'): T[] {
  if (order === 'request') return items;
  if (order === 'reversed') return [...items].reverse();
  const shuffled = [...items];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  // Two or more items always come back out of request order, so a test sees the difference.
  if (shuffled.length > 1 && shuffled.every((item, i) => item === items[i])) shuffled.reverse();
  return shuffled;
}

/** Waits `ms` before an answer, or less when the client goes away meanwhile (no timer outlives it). */
function answerDelay(res: Response, ms: number): Promise<void> {
  if (ms <= 0 || res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      res.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    res.on('close', done);
  });
}

/** `/streaming/videos…`: Gcore's video endpoints (auth and API faults are applied in front). */
export function videosRouter(ctx: EmulatorContext): Router {
  const router = Router();
  router.use(express.json({ limit: '10mb' }));

  const create = (input: VideoInput): VideoEntity => {
    const video = ctx.videos.create({
      name: input.name as string,
      description: input.description ?? null,
      originUrl: input.originUrl ?? null,
      originHttpHeaders: input.originHttpHeaders ?? null,
      extra: input.extra,
    });
    ctx.stats.count('videosCreated');
    ctx.logger.info({ videoId: video.id, originUrl: video.originUrl }, 'video created');
    if (video.originUrl !== null) ctx.puller.start(video);
    return video;
  };

  const findLive = (req: Request, res: Response): VideoEntity | undefined => {
    const id = String(req.params.id);
    const video = /^\d+$/.test(id) ? ctx.videos.live(Number(id)) : undefined;
    if (video === undefined) notFound(res);
    return video;
  };

  // createDropEveryN: the handler runs (the videos exist), but its answer never leaves.
  router.post(['/videos', '/videos/batch'], (req, res, next) => {
    if (isEveryNth(ctx.faults.nextCreate(), ctx.faults.current.createDropEveryN)) {
      res.json = () => {
        ctx.logger.info({ path: req.path }, 'fault: create answer dropped');
        req.socket.destroy();
        return res;
      };
    }
    next();
  });

  router.post('/videos', async (req, res) => {
    const { input, errors } = readVideoFields(unwrapVideo(req.body), true);
    if (Object.keys(errors).length > 0) return unprocessable(res, errors);
    const json = videoJson(create(input));
    // A slow create: the video exists already; only the answer is late.
    await answerDelay(res, ctx.faults.current.createDelayMs);
    if (!res.destroyed) res.json(ctx.faults.current.createResponse === 'array' ? [json] : json);
  });

  router.post('/videos/batch', async (req, res) => {
    const videos = (req.body as { videos?: unknown } | undefined)?.videos;
    const faults = ctx.faults.current;
    ctx.requests.add({
      method: 'POST',
      path: '/videos/batch',
      query: queryStrings(req),
      ...(Array.isArray(videos) ? { items: videos.length } : {}),
    });
    // The docs page calls batch upload "available soon, ask support": an account may not have it.
    if (faults.batchStatus !== 0) {
      const message =
        faults.batchStatus === 403 ? 'You do not have permission to perform this action.' : 'Not found.';
      return void res.status(faults.batchStatus).json({ message });
    }
    if (!Array.isArray(videos) || videos.length === 0)
      return unprocessable(res, { videos: ["can't be blank"] });
    if (videos.length > BATCH_MAX) {
      return unprocessable(res, { videos: [`is too long (maximum is ${BATCH_MAX} videos)`] });
    }
    const read = videos.map((item) => readVideoFields(unwrapVideo(item), true));
    const errors = Object.fromEntries(
      read.flatMap((r, i) => (Object.keys(r.errors).length > 0 ? [[String(i), r.errors]] : [])),
    );
    if (Object.keys(errors).length > 0) return unprocessable(res, { videos: errors });
    const created = read.map((r) => videoJson(create(r.input)));
    // Gcore's OpenAPI file answers "array of videoDetails" without saying in which order.
    const answer = orderBatch(created, faults.batchOrder);
    // A slow batch: the videos exist already; only the answer is late (and may come after the
    // client gave up: Gcore's connection timeout is 30 s).
    await answerDelay(res, faults.batchDelayMs * created.length);
    if (!res.destroyed) res.json(answer);
  });

  router.get('/videos', (req, res) => {
    ctx.requests.add({ method: 'GET', path: '/videos', query: queryStrings(req) });
    // OA `get_api_videos`, `search`: "id={s} OR slug={s} OR name like {s} … returns list of videos
    // where id=1000 or slug=1000 or name contains "1000"".
    const search = typeof req.query.search === 'string' ? req.query.search : '';
    const matchesSearch = (v: { id: number; slug: string; name: string }) =>
      search === '' ||
      String(v.id) === search ||
      v.slug === search ||
      v.name.toLowerCase().includes(search.toLowerCase());
    const status =
      typeof req.query.status === 'string' && req.query.status !== '' ? req.query.status : undefined;
    const page = positiveInt(req.query.page, 1);
    const perPage = Math.min(PER_PAGE_MAX, positiveInt(req.query.per_page, PER_PAGE_DEFAULT));
    const wanted = status?.split(',').filter((s): s is VideoStatus => STATUSES.includes(s as VideoStatus));
    // OA `get_api_videos`: "id — IDs of the videos to find … separated by commas. Example, ?id=1,101,1001".
    const ids =
      typeof req.query.id === 'string' && req.query.id !== ''
        ? new Set(req.query.id.split(',').map((part) => Number(part.trim())))
        : undefined;
    const sign = ctx.faults.current.listOrder === 'oldest' ? 1 : -1;
    const matching = ctx.videos
      .all()
      .filter((v) => !v.deleted)
      .filter((v) => ids === undefined || ids.has(v.id))
      .filter(matchesSearch)
      .filter((v) => wanted === undefined || wanted.includes(v.status))
      .sort((a, b) => sign * (a.id - b.id));
    const fields = listFields(req.query.fields);
    res.json(
      matching
        .slice((page - 1) * perPage, page * perPage)
        .map(videoJson)
        .map((json) => (fields ? pick(json, fields) : json)),
    );
  });

  router.get('/videos/:id', (req, res) => {
    const video = findLive(req, res);
    if (video) res.json(videoJson(video));
  });

  router.patch('/videos/:id', (req, res) => {
    const video = findLive(req, res);
    if (!video) return;
    // Flat fields only, as Gcore documents: a wrapped body is just an unknown field, ignored.
    const { input, errors } = readVideoFields(req.body, false);
    if (Object.keys(errors).length > 0) return unprocessable(res, errors);
    if (input.name !== undefined) video.name = input.name;
    if (input.description !== undefined) video.description = input.description;
    if (input.originUrl !== undefined) video.originUrl = input.originUrl;
    if (input.originHttpHeaders !== undefined) video.originHttpHeaders = input.originHttpHeaders;
    Object.assign(video.extra, input.extra);
    ctx.videos.touch(video);
    res.json(videoJson(video));
  });

  router.delete('/videos/:id', (req, res) => {
    const video = findLive(req, res);
    if (!video) return;
    ctx.processor.cancel(video.id);
    ctx.puller.cancel(video.id);
    ctx.videos.delete(video);
    ctx.logger.info({ videoId: video.id }, 'video deleted');
    res.status(204).end();
  });

  router.get('/videos/:id/upload', (req, res) => {
    const video = findLive(req, res);
    if (!video) return;
    const token = ctx.tokens.issue(video.id, video.clientId, ctx.clock.now(), ctx.faults.current.tokenTtlMs);
    res.json({
      // The emulator is its own upload server, reached the way the client reached the API.
      servers: [
        { id: 1, role: 'upload', hostname: req.headers.host ?? ctx.selfHost(), active: true, ssl: false },
      ],
      token,
      video: videoJson(video),
    });
  });

  return router;
}
