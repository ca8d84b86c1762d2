// The relay's own JSON API. Same origin, so the browser's Basic login goes with every call.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call(method, path) {
  let res;
  try {
    res = await fetch(path, { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' });
  } catch {
    throw new ApiError(0, 'NETWORK', 'the relay cannot be reached');
  }
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const error = body?.error ?? {};
    throw new ApiError(
      res.status,
      error.code ?? 'HTTP_ERROR',
      error.message ?? `the relay answered ${res.status}`,
    );
  }
  return body;
}

/** `{items, next}`, newest first. */
export function listJobs({ state, kind, limit = 100, cursor } = {}) {
  const query = new URLSearchParams({ limit: String(limit) });
  if (state) query.set('state', state);
  if (kind) query.set('kind', kind);
  if (cursor) query.set('cursor', cursor);
  return call('GET', `/api/jobs?${query}`);
}

export const getJob = (id) => call('GET', `/api/jobs/${encodeURIComponent(id)}`);
export const getSummary = () => call('GET', '/api/dashboard/summary');
export const retryJob = (id) => call('POST', `/api/jobs/${encodeURIComponent(id)}/retry`);
export const cancelJob = (id, { deleteVideo = false } = {}) =>
  call('DELETE', `/api/jobs/${encodeURIComponent(id)}${deleteVideo ? '?delete_video=true' : ''}`);
