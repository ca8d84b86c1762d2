import { chooseUploadEndpoint } from './endpoint.js';
import { GcoreError } from './errors.js';
import type { UploadParams, UploadServer } from './types.js';

const params = (servers: UploadServer[]): UploadParams => ({
  servers,
  token: 'eyJhbGciOiJIUzI1NiJ9.e30.sig',
  video: { id: 1, name: 'v', client_id: 100, slug: 'abcdefghij', status: 'empty' },
});

describe('chooseUploadEndpoint', () => {
  it('builds https://{hostname}/upload/ with the trailing slash', () => {
    expect(
      chooseUploadEndpoint(params([{ id: 1, hostname: 'vod-uploader-ed-2.gvideo.co', active: true }])),
    ).toBe('https://vod-uploader-ed-2.gvideo.co/upload/');
  });

  it('uses plain http for ssl: false only when allowed (the emulator, GCORE_ALLOW_INSECURE_UPLOAD)', () => {
    const insecure = params([{ hostname: '127.0.0.1:8091', active: true, ssl: false }]);
    expect(chooseUploadEndpoint(insecure, { allowInsecure: true })).toBe('http://127.0.0.1:8091/upload/');
    let error: unknown;
    try {
      chooseUploadEndpoint(insecure);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(GcoreError);
    expect(error).toMatchObject({ code: 'GCORE_INSECURE_UPLOAD_SERVER', retryable: false });
  });

  it('skips ssl: false servers when a TLS one is listed, even an inactive one', () => {
    const servers = [
      { hostname: 'plain.example', active: true, ssl: false },
      { hostname: 'tls.example', active: false, ssl: true },
    ];
    expect(chooseUploadEndpoint(params(servers))).toBe('https://tls.example/upload/');
    expect(chooseUploadEndpoint(params(servers), { allowInsecure: true })).toBe(
      'http://plain.example/upload/',
    );
  });

  it('prefers active servers, keeping Gcore order among them', () => {
    const servers = [
      { hostname: 'a.example', active: false },
      { hostname: 'b.example' },
      { hostname: 'c.example', active: true },
      { hostname: 'd.example', active: true },
    ];
    expect(chooseUploadEndpoint(params(servers))).toBe('https://c.example/upload/');
  });

  it('falls back to an inactive server when no server is active', () => {
    expect(chooseUploadEndpoint(params([{ hostname: 'a.example', active: false }]))).toBe(
      'https://a.example/upload/',
    );
  });

  it('skips excluded servers by hostname or endpoint, but never leaves the caller with none', () => {
    const servers = [
      { hostname: 'a.example', active: true },
      { hostname: 'b.example', active: true },
    ];
    expect(chooseUploadEndpoint(params(servers), { exclude: ['a.example'] })).toBe(
      'https://b.example/upload/',
    );
    expect(chooseUploadEndpoint(params(servers), { exclude: ['https://a.example/upload/'] })).toBe(
      'https://b.example/upload/',
    );
    expect(chooseUploadEndpoint(params(servers), { exclude: ['a.example', 'b.example'] })).toBe(
      'https://a.example/upload/',
    );
  });

  it('refuses an empty server list with a non-retryable error', () => {
    let error: unknown;
    try {
      chooseUploadEndpoint(params([]));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GcoreError);
    expect(error).toMatchObject({ code: 'GCORE_NO_UPLOAD_SERVER', retryable: false });
  });
});
