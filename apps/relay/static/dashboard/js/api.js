// @ts-check
// The relay's own JSON API. Same origin, so the browser's Basic login goes with every call.

/**
 * @typedef {import('@gtr/contract').PublicJob} PublicJob
 * @typedef {import('@gtr/contract').JobState} JobState
 * @typedef {import('@gtr/contract').JobKind} JobKind
 * @typedef {import('@gtr/contract').ErrorCode} ErrorCode
 * @typedef {import('@gtr/contract').ErrorBody} ErrorBody
 * @typedef {import('@gtr/contract').PublicBatch} PublicBatch
 * @typedef {import('@gtr/contract').BatchPage} BatchPage
 * @typedef {{items: PublicJob[], next: string | null}} JobPage
 * @typedef {{url: string, emulator: boolean}} UpstreamInfo
 */

/**
 * `GET /api/dashboard/summary` (DashboardSummary in apps/relay/src/dashboard/summary.ts).
 * @typedef {object} DashboardSummary
 * @property {Partial<Record<JobState, number>>} counts
 * @property {number} total
 * @property {{forward_bytes_per_sec: number, rate_limited_last_minute: number}} stats
 * @property {{waiting: number, active: number, delayed: number, depth: number}} queue
 * @property {UpstreamInfo | null} upstream
 * @property {string[]} owners the configured tokens' names
 * @property {OpenUploadsReport} open_uploads
 * @property {string} generated_at
 */

/**
 * Each tool's unfinished uploads (OpenUploadsReport in apps/relay/src/ingest/quota.ts).
 * @typedef {object} OpenUploadsReport
 * @property {{max_open_uploads: number | null, max_open_bytes: number | null, disk_reserve_bytes: number}} limits
 * @property {{owner: string, uploads: number, bytes: number}[]} owners
 */

export class ApiError extends Error {
  /**
   * @param {number} status 0 when the relay could not be reached.
   * @param {ErrorCode | null} code The relay's error code; null when it sent none.
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * @template T
 * @param {string} method
 * @param {string} path
 * @returns {Promise<T>}
 */
async function call(method, path) {
  let res;
  try {
    res = await fetch(path, { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' });
  } catch {
    throw new ApiError(0, null, 'the relay cannot be reached');
  }
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const error = /** @type {Partial<ErrorBody['error']>} */ (body?.error ?? {});
    throw new ApiError(res.status, error.code ?? null, error.message ?? `the relay answered ${res.status}`);
  }
  return body;
}

/**
 * `{items, next}`, newest first; every filter, the search `q` included, is the relay's.
 * @param {{state?: JobState | '', kind?: JobKind | '', owner?: string, q?: string, batch?: string, limit?: number, cursor?: string | null}} [query]
 * @returns {Promise<JobPage>}
 */
export function listJobs({ state, kind, owner, q, batch, limit = 100, cursor } = {}) {
  const query = new URLSearchParams({ limit: String(limit) });
  if (state) query.set('state', state);
  if (kind) query.set('kind', kind);
  if (owner) query.set('owner', owner);
  if (q) query.set('q', q);
  if (batch) query.set('batch', batch);
  if (cursor) query.set('cursor', cursor);
  return call('GET', `/api/jobs?${query}`);
}

/** @type {(limit?: number) => Promise<BatchPage>} */
export const listBatches = (limit = 20) => call('GET', `/api/batches?limit=${limit}`);
/** @type {(id: string) => Promise<PublicBatch>} */
export const getBatch = (id) => call('GET', `/api/batches/${encodeURIComponent(id)}`);
/** @type {(id: string) => Promise<{batch: PublicBatch, retried: number, refused: unknown[]}>} */
export const retryBatch = (id) => call('POST', `/api/batches/${encodeURIComponent(id)}/retry`);
/** @type {(id: string, format: 'csv' | 'json') => string} */
export const batchExportUrl = (id, format) =>
  `/api/batches/${encodeURIComponent(id)}/export?format=${format}`;

/** @type {(id: string) => Promise<PublicJob>} */
export const getJob = (id) => call('GET', `/api/jobs/${encodeURIComponent(id)}`);
/** @type {() => Promise<DashboardSummary>} */
export const getSummary = () => call('GET', '/api/dashboard/summary');
/** @type {(id: string) => Promise<PublicJob>} */
export const retryJob = (id) => call('POST', `/api/jobs/${encodeURIComponent(id)}/retry`);
/** @type {(id: string, options?: {deleteVideo?: boolean}) => Promise<PublicJob>} */
export const cancelJob = (id, { deleteVideo = false } = {}) =>
  call('DELETE', `/api/jobs/${encodeURIComponent(id)}${deleteVideo ? '?delete_video=true' : ''}`);
