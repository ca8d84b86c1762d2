import type { RequestHandler } from 'express';

/**
 * `Authorization: APIKey <key>`; Gcore matches the scheme word case-insensitively (its OpenAPI
 * file writes `apikey`). Anything else is 401.
 */
export function requireApiKey(apiKey: string): RequestHandler {
  return (req, res, next) => {
    const header = req.headers.authorization?.trim();
    if (!header) {
      res.status(401).json({ message: 'Authentication credentials were not provided.' });
      return;
    }
    const [, scheme, key] = /^(\S+)\s+(.+)$/.exec(header) ?? [];
    if (scheme?.toLowerCase() !== 'apikey' || key?.trim() !== apiKey) {
      res.status(401).json({ message: 'Incorrect authentication credentials.' });
      return;
    }
    next();
  };
}
