import type { CreateIdentity } from '@gtr/core';
import { GcoreApiError, type GcoreVideo } from '@gtr/gcore';
import type { WorkerContext } from '../context.js';

/** The worker's clock and Gcore's `created_at` may differ by this much. */
const CLOCK_LEEWAY_MS = 60_000;

/**
 * Whether a failed create call may still have made its video: anything but a refusal (a 4xx
 * answer) — no answer, a timeout, a 5xx, an answer that could not be read or did not name it.
 */
export function mayHaveCreated(error: unknown): boolean {
  return !(error instanceof GcoreApiError && error.status < 500);
}

/**
 * The video that job `jobId`'s create call made before its answer (or our save of it) was lost,
 * or undefined when none can be told for certain. Call it holding the identity's create lock
 * (holdCreateLock): then no other job's create of this identity is out unrecorded, and every
 * video another job made is in the index of video id → job, which rules it out.
 *
 * A candidate has the name, was created after the create started (a minute's leeway for clocks)
 * and is held by no other job. An import's video is matched on its `origin_url` too, in **any**
 * status: Gcore starts pulling `origin_url` as soon as the video exists (G-Core/product-documentation
 * `vod-status.mdx`: "Empty -> Pending -> Viewable -> Ready", "[Any status] -> Error";
 * G-Core/gcore-python `src/gcore/resources/streaming/videos/videos.py`, `create`: "After method
 * execution file will be uploaded and will be sent to transcoding automatically"), so by the
 * lookup it may be `pending` or further, or `empty` with the download's error. Any other video
 * (an upload's, a relay-pulled import's) must still be `empty`, error-free and without an origin:
 * nothing can have reached it but our own TUS upload, which never started without its id. Gcore's
 * list leaves deleted videos out.
 *
 * More than one candidate (a video of that name made outside the relay, or a lock that lapsed
 * while two creates were out) is never resolved by a guess: nothing is adopted or deleted, and
 * the ids are logged.
 */
export async function findLostCreate(
  ctx: WorkerContext,
  jobId: string,
  identity: CreateIdentity,
  since: number,
  signal?: AbortSignal,
): Promise<GcoreVideo | undefined> {
  const { name } = identity;
  const origin = identity.origin_url ?? null;
  const listed = await ctx.gcore.listVideos({ search: name, per_page: 100 }, signal ? { signal } : {});
  const matching = listed.filter(
    (v) =>
      v.name === name &&
      Date.parse(v.created_at ?? '') >= since - CLOCK_LEEWAY_MS &&
      (origin === null ? v.status === 'empty' && !v.error && !v.origin_url : v.origin_url === origin),
  );
  const holders = await ctx.jobs.jobsOfVideos(matching.map((v) => v.id));
  const free = matching.filter((_, i) => holders[i] === null || holders[i] === jobId);
  if (free.length > 1) {
    ctx.logger.warn(
      { jobId, videoIds: free.map((v) => v.id) },
      'several same-named videos no job holds were created since the lost create; none is taken',
    );
    return undefined;
  }
  return free[0];
}
