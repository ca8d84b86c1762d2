import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** What an upload token vouches for. `exp` is in seconds, as in a JWT. */
export interface UploadClaims {
  video_id: number;
  client_id: number;
  iat: number;
  exp: number;
}

// Gcore's tokens are HS256 JWTs, which is why its docs quote them as `eyJhbGciOi...`.
const HEADER = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

function base64url(text: string | Buffer): string {
  return Buffer.from(text).toString('base64url');
}

/** Issues and checks the upload tokens of one emulator; a restarted emulator rejects old tokens. */
export class UploadTokens {
  constructor(private readonly secret: Buffer = randomBytes(32)) {}

  issue(videoId: number, clientId: number, nowMs: number, ttlMs: number): string {
    const claims: UploadClaims = {
      video_id: videoId,
      client_id: clientId,
      iat: Math.floor(nowMs / 1_000),
      // Fractional seconds keep sub-second lifetimes (set by tests) exact.
      exp: (nowMs + ttlMs) / 1_000,
    };
    const body = `${HEADER}.${base64url(JSON.stringify(claims))}`;
    return `${body}.${this.#sign(body)}`;
  }

  /** The claims of a well-signed, unexpired token; null otherwise. */
  verify(token: string, nowMs: number): UploadClaims | null {
    const parts = token.split('.');
    if (parts.length !== 3) return null;
    const [header, payload, signature] = parts as [string, string, string];
    const expected = Buffer.from(this.#sign(`${header}.${payload}`));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    let claims: UploadClaims;
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as UploadClaims;
    } catch {
      return null;
    }
    if (typeof claims.exp !== 'number' || claims.exp * 1_000 <= nowMs) return null;
    return claims;
  }

  #sign(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url');
  }
}
