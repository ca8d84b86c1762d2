import type { VideoEntity } from '../catalog.js';

/** Where the emulated CDN pretends to serve videos; `.invalid` so nothing ever resolves it. */
export const CDN_HOST = 'cdn.gcore-emulator.invalid';

/** The base URL of a video's renditions, in Gcore's `{client_id}_{slug}` shape. */
export function videoBaseUrl(video: VideoEntity): string {
  return `https://${CDN_HOST}/videos/${video.clientId}_${video.slug}`;
}

// Values Gcore reports for fields the client did not set.
const FIELD_DEFAULTS = {
  directory_id: null,
  client_user_id: null,
  priority: 0,
  projection: 'regular',
  quality_set_id: null,
  clip_start_seconds: null,
  clip_duration_seconds: null,
  source_bitrate_limit: true,
  screenshot_id: 0,
  remote_poster_url: null,
  // streaming_api.yaml, `createVideo.auto_transcribe_audio_language`: `default: auto` (AI subtitles
  // whenever the account has them enabled, unless the create says `disable`).
  auto_transcribe_audio_language: 'auto',
  auto_translate_subtitles_language: 'disable',
};

function originHost(url: string | null): string | null {
  if (url === null) return null;
  try {
    return new URL(url).host;
  } catch {
    return null;
  }
}

/** A video as Gcore's API shows it. */
export function videoJson(video: VideoEntity): Record<string, unknown> {
  const base = videoBaseUrl(video);
  const { poster, ...extra } = video.extra;
  return {
    id: video.id,
    name: video.name,
    description: video.description,
    client_id: video.clientId,
    slug: video.slug,
    status: video.status,
    error: video.error,
    duration: video.duration,
    origin_size: video.originSize,
    origin_url: video.originUrl,
    origin_host: originHost(video.originUrl),
    created_at: new Date(video.createdAt).toISOString(),
    updated_at: new Date(video.updatedAt).toISOString(),
    ...FIELD_DEFAULTS,
    ...extra,
    // Gcore turns an uploaded poster (a data URI) into a URL of its own.
    poster: poster ? `${base}/poster.jpg` : null,
    hls_url: video.viewable ? `${base}/master.m3u8` : null,
    dash_url: video.viewable ? `${base}/master.mpd` : null,
    screenshots: [...video.screenshots],
    converted_videos: video.convertedVideos.map((c) => ({ ...c })),
  };
}
