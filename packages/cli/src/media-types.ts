import { extensionOf } from '@gtr/contract';

/**
 * MIME types for the video extensions Gcore accepts. MPEG transport streams (`.mts`, `.m2ts`) get
 * the DLNA type, because `video/mp2t` means an HLS segment to the relay and is refused.
 */
// biome-ignore format: a table reads better packed
const TYPES: Record<string, string> = {
  '3g2': 'video/3gpp2', '3gp': 'video/3gpp', asf: 'video/x-ms-asf', avi: 'video/x-msvideo',
  dif: 'video/x-dv', dv: 'video/x-dv', flv: 'video/x-flv', f4v: 'video/x-f4v', m4v: 'video/x-m4v',
  mov: 'video/quicktime', qt: 'video/quicktime', mp4: 'video/mp4', mpeg: 'video/mpeg', mpg: 'video/mpeg',
  vob: 'video/mpeg', mts: 'video/vnd.dlna.mpeg-tts', m2t: 'video/vnd.dlna.mpeg-tts',
  m2ts: 'video/vnd.dlna.mpeg-tts', wmv: 'video/x-ms-wmv', mkv: 'video/x-matroska', ogv: 'video/ogg',
  ogg: 'video/ogg', webm: 'video/webm', mxf: 'application/mxf',
};

/** The MIME type for a file name, or null when its extension is not a known video format. */
export function guessVideoType(filename: string): string | null {
  return TYPES[extensionOf(filename)] ?? null;
}
