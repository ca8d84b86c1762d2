/** Bytes needed to recognise every container below (MPEG-TS needs a second sync byte at 188). */
export const SNIFF_BYTES = 512;

const ISO_BMFF_BOXES = new Set(['ftyp', 'moov', 'mdat', 'free', 'wide', 'skip', 'pnot']);

function startsWith(head: Buffer, bytes: number[], at = 0): boolean {
  return head.length >= at + bytes.length && bytes.every((b, i) => head[at + i] === b);
}

function ascii(head: Buffer, at: number, length: number): string {
  return head.subarray(at, at + length).toString('latin1');
}

/**
 * Names the container of a file from its first bytes, or null when it is none Gcore accepts as an
 * original (see docs/gcore-api.md, "Accepted source formats"). Gcore rejects such uploads as "File Invalid".
 */
export function detectContainer(head: Buffer): string | null {
  if (head.length >= 8 && ISO_BMFF_BOXES.has(ascii(head, 4, 4))) return 'iso-bmff'; // mp4, mov, 3gp, m4v, f4v
  if (startsWith(head, [0x1a, 0x45, 0xdf, 0xa3])) return 'matroska'; // mkv, webm
  if (ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 4) === 'AVI ') return 'avi';
  if (ascii(head, 0, 3) === 'FLV' && head[3] === 0x01) return 'flv';
  if (startsWith(head, [0x00, 0x00, 0x01, 0xba])) return 'mpeg-ps'; // mpeg, mpg, vob
  if (startsWith(head, [0x00, 0x00, 0x01, 0xb3])) return 'mpeg-es';
  if (head[0] === 0x47 && head[188] === 0x47) return 'mpeg-ts'; // mts, m2t, m2ts
  if (startsWith(head, [0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11])) return 'asf'; // asf, wmv
  if (ascii(head, 0, 4) === 'OggS') return 'ogg'; // ogg, ogv
  if (startsWith(head, [0x06, 0x0e, 0x2b, 0x34])) return 'mxf';
  if (startsWith(head, [0x1f, 0x07, 0x00])) return 'dv'; // dv, dif
  return null;
}
