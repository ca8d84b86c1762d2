import { checkVideoFormat } from './formats.js';

describe('checkVideoFormat', () => {
  it.each([
    ['clip.mp4', 'video/mp4'],
    ['clip.MOV', 'video/quicktime'],
    ['clip.mkv', 'video/x-matroska'],
    ['clip.wmv', 'video/x-ms-wmv'],
    ['clip.m2ts', 'video/vnd.dlna.mpeg-tts'],
    ['clip.mxf', 'application/mxf'],
    ['clip.webm', undefined],
    ['clip.avi', 'application/octet-stream'],
    ['noextension', 'video/mp4'],
  ])('accepts %s (%s)', (name, type) => {
    expect(checkVideoFormat(name, type)).toEqual({ ok: true });
  });

  it.each([
    ['master.m3u8', 'application/vnd.apple.mpegurl', /streaming/],
    ['segment.ts', 'video/mp2t', /streaming/],
    ['manifest.mpd', undefined, /streaming/],
    ['notes.txt', 'text/plain', /"\.txt" is not a video format/],
    ['photo.png', undefined, /"\.png" is not a video format/],
    ['clip.mp4', 'text/html', /"text\/html" is not a video type/],
    ['noextension', undefined, /no video file extension/],
  ])('refuses %s (%s)', (name, type, reason) => {
    const verdict = checkVideoFormat(name, type);
    expect(verdict.ok).toBe(false);
    if (!verdict.ok) expect(verdict.reason).toMatch(reason);
  });
});
