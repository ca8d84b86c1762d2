import { chooseUploadEndpoint } from '@gtr/gcore';
import type { ForwardAttempt } from './attempt.js';

/** Step 2: upload parameters (servers + a 4-hour token), fetched again when old or refused. */
export async function ensureUploadParams(attempt: ForwardAttempt, refresh: boolean): Promise<void> {
  const { ctx, progress } = attempt;
  const age = progress.token_at === null ? Number.POSITIVE_INFINITY : ctx.now() - progress.token_at;
  if (!refresh && progress.token && progress.endpoint && age < ctx.settings.tokenMaxAgeMs) return;
  const params = await ctx.gcore.getUploadParams(progress.video_id!, { signal: attempt.signal });
  progress.token = params.token;
  progress.token_at = ctx.now();
  progress.endpoint = chooseUploadEndpoint(params, { allowInsecure: ctx.settings.allowInsecureUpload });
  progress.client_id = params.video?.client_id ?? progress.client_id;
  await attempt.save();
}
