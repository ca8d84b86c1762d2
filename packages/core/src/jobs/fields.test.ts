import { AppError } from '../errors.js';
import { originRequestHeaders } from '../net/headers.js';
import { parseVideoDefaults, parseVideoRequest } from './fields.js';

describe('parseVideoRequest', () => {
  it('reads Gcore fields from strings and numbers alike and ignores unknown keys', () => {
    const parsed = parseVideoRequest({
      name: ' Demo ',
      description: 'about',
      priority: '-3',
      directory_id: 42,
      projection: 'vr360',
      auto_transcribe_audio_language: 'eng',
      callback_url: 'https://tools.example/hook',
      relativePath: 'null',
      filetype: 'video/mp4',
    });
    expect(parsed).toEqual({
      name: 'Demo',
      description: 'about',
      callback_url: 'https://tools.example/hook',
      fields: { priority: -3, directory_id: 42, projection: 'vr360', auto_transcribe_audio_language: 'eng' },
    });
  });

  it.each([
    [{ priority: 'abc' }, /^priority must be a whole number/],
    [{ priority: '11' }, /^priority must be at most 10/],
    [{ directory_id: '1.5' }, /^directory_id must be a whole number/],
    [{ projection: 'flat' }, /^projection must be one of/],
    [{ callback_url: 'ftp://x/y' }, /^callback_url must be an http\(s\) URL/],
    [{ callback_url: 'not a url' }, /^callback_url must be an http\(s\) URL/],
    [{ callback_url: 'javascript:alert(1)' }, /^callback_url must be an http\(s\) URL/],
    [{ callback_url: 'http://' }, /^callback_url must be an http\(s\) URL/],
    [{ callback_url: 'http://exa mple.com/hook' }, /^callback_url must be an http\(s\) URL/],
    [{ callback_url: `https://tools.example/${'x'.repeat(2_048)}` }, /^callback_url must be at most 2048/],
    [{ name: '   ' }, /^name must not be empty/],
    [{ auto_transcribe_audio_language: 'english' }, /^auto_transcribe_audio_language must be/],
  ])('refuses %j', (input, message) => {
    let error: unknown;
    try {
      parseVideoRequest(input);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).httpStatus).toBe(400);
    expect((error as AppError).code).toBe('INVALID_FIELD');
    expect((error as AppError).message).toMatch(message);
  });

  it('takes a loopback or private callback_url at creation: its address is judged when the callback is sent', () => {
    for (const url of ['http://127.0.0.1:9/hook', 'http://[::1]/hook', 'http://10.0.0.5/hook']) {
      expect(parseVideoRequest({ callback_url: url }).callback_url).toBe(url);
    }
  });

  describe('origin_http_headers (one Authorization header, as Gcore documents it)', () => {
    it.each([
      'Authorization: Bearer abc.def-ghi',
      'Authorization: Basic dXNlcjpwYXNz',
      'authorization:APIKey 1234$abcd',
      '  Authorization: Bearer two words  ',
    ])('takes %j', (value) => {
      const parsed = parseVideoRequest({ origin_http_headers: value });
      expect(parsed.fields.origin_http_headers).toBe(value.trim());
    });

    it.each([
      ['two lines', 'Authorization: Bearer a\nX-Extra: b'],
      ['two Authorization lines', 'Authorization: Bearer a\r\nAuthorization: Bearer b'],
      ['another header name', 'X-Api-Key: secret'],
      ['a cookie', 'Cookie: session=abc'],
      ['no scheme and credentials', 'Authorization: Bearer'],
      ['no header name', 'Bearer abc'],
      ['a control character', 'Authorization: Bearer a\u0000b'],
    ])('refuses %s', (_label, value) => {
      let error: unknown;
      try {
        parseVideoRequest({ origin_http_headers: value });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).httpStatus).toBe(400);
      expect((error as AppError).code).toBe('INVALID_FIELD');
      expect((error as AppError).message).toMatch(
        /^origin_http_headers must be one "Authorization: <scheme> <credentials>" header/,
      );
    });

    it('turns it into the one header Gcore sends, and nothing for any other shape', () => {
      expect(originRequestHeaders('Authorization:  Bearer abc')).toEqual({ authorization: 'Bearer abc' });
      expect(originRequestHeaders('Authorization: Bearer a\nX-Extra: b')).toEqual({});
      expect(originRequestHeaders(undefined)).toEqual({});
    });
  });
});

describe('parseVideoDefaults', () => {
  it('reads a JSON object of create-video fields with the metadata rules', () => {
    expect(parseVideoDefaults('{"auto_transcribe_audio_language":"disable","directory_id":"12"}')).toEqual({
      auto_transcribe_audio_language: 'disable',
      directory_id: 12,
    });
  });

  it.each([
    ['bad JSON', '{directory_id: 12}', /invalid JSON/],
    ['an array', '[1]', /expected a JSON object/],
    ['a bad value', '{"priority":99}', /^priority must be at most 10/],
    ['an unknown key', '{"directory":12}', /^directory: not a field that can have a default/],
    ['a per-request field', '{"name":"x"}', /^name: not a field/],
    [
      'origin_http_headers',
      '{"origin_http_headers":"Authorization: Bearer a"}',
      /^origin_http_headers: not a field/,
    ],
  ])('refuses %s', (_label, text, message) => {
    expect(() => parseVideoDefaults(text)).toThrow(message);
  });
});
