import { detectContainer } from './container.js';

function bytes(...parts: (string | number[])[]): Buffer {
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));
}

describe('detectContainer', () => {
  it.each([
    ['MP4 ftyp', bytes([0, 0, 0, 0x20], 'ftypisom'), 'iso-bmff'],
    ['QuickTime moov', bytes([0, 0, 0, 8], 'moov'), 'iso-bmff'],
    ['QuickTime wide', bytes([0, 0, 0, 8], 'wide'), 'iso-bmff'],
    ['Matroska/WebM', bytes([0x1a, 0x45, 0xdf, 0xa3, 0x9f]), 'matroska'],
    ['AVI', bytes('RIFF', [1, 2, 3, 4], 'AVI LIST'), 'avi'],
    ['FLV', bytes('FLV', [1, 5]), 'flv'],
    ['MPEG-PS', bytes([0, 0, 1, 0xba, 0x44]), 'mpeg-ps'],
    ['MPEG-TS', Buffer.concat([Buffer.from([0x47]), Buffer.alloc(187), Buffer.from([0x47])]), 'mpeg-ts'],
    ['ASF/WMV', bytes([0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11]), 'asf'],
    ['Ogg', bytes('OggS', [0]), 'ogg'],
    ['MXF', bytes([0x06, 0x0e, 0x2b, 0x34, 2]), 'mxf'],
  ])('recognises %s', (_name, head, container) => {
    expect(detectContainer(head)).toBe(container);
  });

  it.each([
    ['text', bytes('hello world, not a video')],
    ['an HLS playlist', bytes('#EXTM3U\n#EXT-X-VERSION:3\n')],
    ['a WAV file', bytes('RIFF', [1, 2, 3, 4], 'WAVEfmt ')],
    ['a lone 0x47 byte', Buffer.concat([Buffer.from([0x47]), Buffer.alloc(300)])],
    ['nothing', Buffer.alloc(0)],
  ])('rejects %s', (_name, head) => {
    expect(detectContainer(head)).toBeNull();
  });
});
