import { UploadTokens } from './tokens.js';

describe('UploadTokens', () => {
  const tokens = new UploadTokens();
  const now = Date.UTC(2030, 0, 1);

  it('issues HS256 JWT-shaped tokens that start like Gcore’s (eyJhbGciOi...)', () => {
    const token = tokens.issue(2501637, 100, now, 4 * 3_600_000);
    expect(token.slice(0, 10)).toBe('eyJhbGciOi');
    expect(token.split('.')).toHaveLength(3);
  });

  it('verifies its own tokens until they expire', () => {
    const token = tokens.issue(1, 2, now, 1_000);
    expect(tokens.verify(token, now + 999)).toMatchObject({ video_id: 1, client_id: 2 });
    expect(tokens.verify(token, now + 1_000)).toBeNull();
  });

  it('refuses tokens signed by another emulator, tampered with, or not tokens at all', () => {
    const token = tokens.issue(1, 2, now, 1_000);
    expect(new UploadTokens().verify(token, now)).toBeNull();
    const [header, , signature] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ video_id: 9, client_id: 2, exp: now / 1_000 + 60 })).toString(
      'base64url',
    );
    expect(tokens.verify(`${header}.${forged}.${signature}`, now)).toBeNull();
    expect(tokens.verify('garbage', now)).toBeNull();
  });
});
