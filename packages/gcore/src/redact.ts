const REDACTED = '[redacted]';
// Gcore's TUS token is a JWT; anything shaped like one is a credential wherever it appears.
const JWT = /eyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*){0,2}/g;
// `Error: token invalid (eyJ…)` echoes the token back; keep `(null)`, which says it was missing.
const TOKEN_INVALID = /token invalid \((?!null\))[^)]*\)/gi;

/**
 * Removes credentials from text that came from the network or from a library's error message:
 * every known secret (the API key, the TUS token), JWT-shaped strings and the token Gcore echoes
 * in `token invalid (…)`.
 */
export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text;
  for (const secret of secrets) {
    // Very short strings would shred ordinary words; real keys and tokens are long.
    if (secret && secret.length >= 6) out = out.split(secret).join(REDACTED);
  }
  return out.replace(TOKEN_INVALID, 'token invalid (…)').replace(JWT, '…');
}

/** Shortens server text so one error cannot flood a log line. */
export function truncate(text: string, max = 300): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
