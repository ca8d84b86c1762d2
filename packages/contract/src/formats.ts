/**
 * Source formats Gcore accepts as originals (docs/gcore-api.md, "Accepted source formats"). Streaming
 * outputs (HLS `.m3u8`/`.ts`, DASH `.mpd`) are refused: Gcore cannot use them as originals.
 */
// biome-ignore format: a list reads better packed
export const VIDEO_EXTENSIONS: ReadonlySet<string> = new Set([
  '3g2', '3gp', 'asf', 'avi', 'dif', 'dv', 'flv', 'f4v', 'm4v', 'mov', 'mp4', 'mpeg', 'mpg', 'mts',
  'm2t', 'm2ts', 'qt', 'wmv', 'vob', 'mkv', 'ogv', 'webm', 'ogg', 'mxf',
]);

export const STREAMING_EXTENSIONS: ReadonlySet<string> = new Set(['m3u8', 'mpd', 'ts', 'm4s']);

// biome-ignore format: a list reads better packed
const VIDEO_MIME_SUBTYPES: ReadonlySet<string> = new Set([
  'mp4', 'quicktime', 'x-ms-wmv', 'x-ms-asf', 'mpeg', 'mpeg-tts', 'vnd.dlna.mpeg-tts', 'x-msvideo', 'avi',
  'x-flv', 'x-f4v', 'webm', 'ogg', 'x-matroska', 'matroska', '3gpp', '3gpp2', 'x-m4v', 'dv', 'x-dv', 'mxf',
  'mp2t', 'x-mpeg', 'vnd.avi',
]);

const STREAMING_MIME_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.apple.mpegurl',
  'application/x-mpegurl',
  'audio/mpegurl',
  'audio/x-mpegurl',
  'application/dash+xml',
  'video/mp2t',
  'video/iso.segment',
]);

export function extensionOf(name: string): string {
  const base = name.split(/[/\\]/).pop() ?? '';
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : '';
}

export type FormatVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Judges a file by its name and, when given, its MIME type. A name without an extension is
 * judged by the type alone; `application/octet-stream` (what browsers send when they do not
 * know) defers to the extension.
 */
export function checkVideoFormat(filename: string, mimeType?: string | null): FormatVerdict {
  const ext = extensionOf(filename);
  const type = (mimeType ?? '').split(';')[0]!.trim().toLowerCase();
  if (STREAMING_EXTENSIONS.has(ext) || STREAMING_MIME_TYPES.has(type)) {
    return {
      ok: false,
      reason: `"${filename}" is a streaming manifest or segment (HLS/DASH); Gcore needs the original video file`,
    };
  }
  if (ext && !VIDEO_EXTENSIONS.has(ext)) {
    return { ok: false, reason: `".${ext}" is not a video format Gcore accepts` };
  }
  if (type && type !== 'application/octet-stream') {
    const [major, sub = ''] = type.split('/');
    if (major !== 'video' && !VIDEO_MIME_SUBTYPES.has(sub)) {
      return { ok: false, reason: `"${type}" is not a video type Gcore accepts` };
    }
  }
  if (!ext && (!type || type === 'application/octet-stream')) {
    return { ok: false, reason: `"${filename}" has no video file extension and no video type` };
  }
  return { ok: true };
}
