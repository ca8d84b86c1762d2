import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Router } from 'express';
import { strictRouter } from '../routing.js';

// Same depth under src/ (Jest) and dist/ (node): apps/relay/{src,dist}/api/ → the repository's docs/.
const DOCUMENT = fileURLToPath(new URL('../../../../docs/openapi.json', import.meta.url));

/** `GET /api/openapi.json`: the relay's OpenAPI document, read once; docs/openapi.json is the only copy. */
export function openapiRouter(file = DOCUMENT): Router {
  // Read and parsed at start, so a missing or broken document stops the relay instead of a request.
  const body = JSON.stringify(JSON.parse(fs.readFileSync(file, 'utf8')));
  const router = strictRouter();
  router.get('/api/openapi.json', (_req, res) => {
    res.type('application/json').send(body);
  });
  return router;
}
