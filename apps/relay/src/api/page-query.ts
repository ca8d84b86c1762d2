import { z } from 'zod';

/**
 * The query of a listing that pages (`GET /api/jobs`, `GET /api/batches`): `limit` (1–500, default
 * the repository's) and `cursor` (the `next` of the previous page), with the same messages on both.
 * Each listing extends it with its filters.
 */
export const pageQuery = z.object({
  limit: z.coerce
    .number({ error: 'limit must be a number' })
    .int('limit must be a whole number')
    .min(1, 'limit must be at least 1')
    .max(500, 'limit must be at most 500')
    .optional(),
  cursor: z.string().regex(/^\d+$/, 'cursor must be the "next" value of a previous page').optional(),
});
