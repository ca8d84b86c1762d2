import { describeErrorBody } from './error-body.js';
import {
  GcoreAbortedError,
  GcoreApiError,
  GcoreError,
  GcoreNetworkError,
  GcoreResponseError,
  GcoreTimeoutError,
} from './errors.js';
import { redact } from './redact.js';
import { parseRetryAfter } from './retry-after.js';
import type {
  CreateVideoFields,
  GcoreVideo,
  ListVideosQuery,
  UpdateVideoFields,
  UploadParams,
} from './types.js';

/** Gcore refuses larger batches; checked here so the mistake is ours to report, not a 422. */
export const MAX_BATCH_SIZE = 500;

/** Describes one request, for rate limiting and metrics. */
export interface GcoreRequestInfo {
  method: string;
  /** The concrete path, e.g. `/streaming/videos/42`, without the query string. */
  path: string;
  /** The path template, e.g. `/streaming/videos/{id}`: low-cardinality, for metric labels. */
  route: string;
}

export interface GcoreResponseInfo extends GcoreRequestInfo {
  /** HTTP status, or 0 when no answer came (network error, timeout, abort). */
  status: number;
  durationMs: number;
}

export interface GcoreClientOptions {
  /** API base URL, e.g. `https://api.gcore.com`. A trailing slash is ignored. */
  baseUrl: string;
  /** Sent as `Authorization: APIKey <key>`; never appears in errors or logs. */
  apiKey: string;
  /** Per-request limit covering connect, headers and body, in milliseconds. Default 30 000. */
  timeoutMs?: number;
  /**
   * Awaited before every request (its time does not count against `timeoutMs`); the worker uses it
   * to take a slot from a shared rate limit. `signal` is the caller's, so a long wait can be cut short.
   */
  beforeRequest?: (info: GcoreRequestInfo & { signal?: AbortSignal }) => Promise<void>;
  /** Called after every request, answered or not (status 0); for metrics. Must not throw. */
  onResponse?: (info: GcoreResponseInfo) => void;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** Default: `gcore-tus-relay`. */
  userAgent?: string;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

export interface DeleteVideoOptions extends RequestOptions {
  /**
   * Treat 404 as "already deleted" and resolve `false` instead of throwing. Default false: a 404
   * usually means a wrong id, which the caller should hear about.
   */
  ignoreNotFound?: boolean;
}

interface Call {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  route: string;
  path: string;
  query?: ListVideosQuery;
  body?: unknown;
  signal?: AbortSignal | undefined;
}

/**
 * Typed client for the Gcore Streaming (VOD) endpoints the relay uses. It never retries: each
 * failure is classified once into a {@link GcoreError} whose `retryable` tells the caller (the
 * worker, which owns retries and rate limits) what to do.
 */
export class GcoreClient {
  readonly #baseUrl: string;
  readonly #apiKey: string;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #headers: Record<string, string>;
  readonly #beforeRequest: GcoreClientOptions['beforeRequest'];
  readonly #onResponse: GcoreClientOptions['onResponse'];

  constructor(options: GcoreClientOptions) {
    if (!options.apiKey)
      throw new GcoreError('GCORE_NO_API_KEY', 'A Gcore API key is required', { retryable: false });
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#apiKey = options.apiKey;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#beforeRequest = options.beforeRequest;
    this.#onResponse = options.onResponse;
    this.#headers = {
      Authorization: `APIKey ${options.apiKey}`,
      Accept: 'application/json',
      'User-Agent': options.userAgent ?? 'gcore-tus-relay',
    };
  }

  /**
   * `POST /streaming/videos` with `{"video": fields}`. Gcore's docs answer one object, its OpenAPI
   * file and SDKs an array of one; both are accepted.
   */
  async createVideo(fields: CreateVideoFields, options: RequestOptions = {}): Promise<GcoreVideo> {
    const route = '/streaming/videos';
    const body = await this.#request({
      method: 'POST',
      route,
      path: route,
      body: { video: fields },
      ...options,
    });
    const video = Array.isArray(body) ? body[0] : body;
    return expectVideo(video, 'POST', route);
  }

  /** `POST /streaming/videos/batch` with `{"videos": [...]}`; at most {@link MAX_BATCH_SIZE}. */
  async createVideosBatch(videos: CreateVideoFields[], options: RequestOptions = {}): Promise<GcoreVideo[]> {
    if (videos.length === 0 || videos.length > MAX_BATCH_SIZE) {
      throw new GcoreError(
        'GCORE_BATCH_SIZE',
        `A Gcore batch create takes 1 to ${MAX_BATCH_SIZE} videos, got ${videos.length}; split the list`,
        { retryable: false },
      );
    }
    const route = '/streaming/videos/batch';
    const body = await this.#request({ method: 'POST', route, path: route, body: { videos }, ...options });
    const list = Array.isArray(body) ? body : [body];
    return list.map((video) => expectVideo(video, 'POST', route));
  }

  /** `GET /streaming/videos/{id}`. */
  async getVideo(id: number | string, options: RequestOptions = {}): Promise<GcoreVideo> {
    const call = videoCall('GET', id, options);
    return expectVideo(await this.#request(call), call.method, call.path);
  }

  /** `GET /streaming/videos?…`: one page, as the bare array Gcore sends. */
  async listVideos(query: ListVideosQuery = {}, options: RequestOptions = {}): Promise<GcoreVideo[]> {
    const route = '/streaming/videos';
    const body = await this.#request({ method: 'GET', route, path: route, query, ...options });
    if (!Array.isArray(body)) throw new GcoreResponseError('GET', route, 'something other than a list');
    return body.map((video) => expectVideo(video, 'GET', route));
  }

  /** `PATCH /streaming/videos/{id}` with the fields flat (not wrapped). */
  async updateVideo(
    id: number | string,
    fields: UpdateVideoFields,
    options: RequestOptions = {},
  ): Promise<GcoreVideo> {
    const call = { ...videoCall('PATCH', id, options), body: fields };
    return expectVideo(await this.#request(call), call.method, call.path);
  }

  /**
   * `DELETE /streaming/videos/{id}`. Resolves `true` once deleted, or `false` for a 404 when
   * `ignoreNotFound` is set.
   */
  async deleteVideo(id: number | string, options: DeleteVideoOptions = {}): Promise<boolean> {
    try {
      await this.#request(videoCall('DELETE', id, options));
      return true;
    } catch (error) {
      if (options.ignoreNotFound && error instanceof GcoreApiError && error.status === 404) return false;
      throw error;
    }
  }

  /** `GET /streaming/videos/{id}/upload`: TUS servers and a token valid for 4 hours. */
  async getUploadParams(id: number | string, options: RequestOptions = {}): Promise<UploadParams> {
    const path = `/streaming/videos/${encodeId(id)}/upload`;
    const body = await this.#request({
      method: 'GET',
      route: '/streaming/videos/{id}/upload',
      path,
      ...options,
    });
    if (!isObject(body) || !Array.isArray(body['servers']) || typeof body['token'] !== 'string') {
      throw new GcoreResponseError('GET', path, 'no servers or token in the upload parameters');
    }
    return body as UploadParams;
  }

  async #request(call: Call): Promise<unknown> {
    const info: GcoreRequestInfo = { method: call.method, path: call.path, route: call.route };
    const what = `Gcore API ${call.method} ${call.path}`;
    const aborted = () => new GcoreAbortedError(`${what} was aborted by the caller`);
    if (call.signal?.aborted) throw aborted();
    await this.#beforeRequest?.(call.signal ? { ...info, signal: call.signal } : info);
    if (call.signal?.aborted) throw aborted();

    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = call.signal ? AbortSignal.any([call.signal, timeout]) : timeout;
    const headers: Record<string, string> = { ...this.#headers };
    // A DELETE answers 204 with no body; Gcore's SDK sends `Accept: */*` for it (G-Core/gcore-python
    // `src/gcore/resources/streaming/videos/videos.py`, `delete`), not application/json.
    if (call.method === 'DELETE') headers.Accept = '*/*';
    if (call.body !== undefined) headers['Content-Type'] = 'application/json';
    const started = performance.now();
    let status = 0;

    try {
      const response = await this.#fetch(this.#url(call), {
        method: call.method,
        headers,
        signal,
        ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
      });
      status = response.status;
      // Read inside the try: the timeout also bounds a body that trickles in.
      const text = await response.text();
      if (!response.ok) throw this.#apiError(call, response, text);
      if (text.trim() === '') return undefined;
      try {
        return JSON.parse(text);
      } catch {
        throw new GcoreResponseError(call.method, call.path, 'a body that is not JSON', status);
      }
    } catch (error) {
      if (error instanceof GcoreError) throw error;
      if (call.signal?.aborted) throw aborted();
      if (timeout.aborted) throw new GcoreTimeoutError(what, this.#timeoutMs);
      throw new GcoreNetworkError(what, scrub(error, this.#apiKey));
    } finally {
      this.#onResponse?.({ ...info, status, durationMs: performance.now() - started });
    }
  }

  #url(call: Call): string {
    const url = new URL(this.#baseUrl + call.path);
    for (const [key, value] of Object.entries(call.query ?? {})) {
      if (value !== undefined && value !== '') url.searchParams.set(key, String(value));
    }
    return url.toString();
  }

  #apiError(call: Call, response: Response, text: string): GcoreApiError {
    const { message, fieldErrors } = describeErrorBody(text);
    return new GcoreApiError({
      status: response.status,
      method: call.method,
      path: call.path,
      gcoreMessage: redact(message, [this.#apiKey]),
      fieldErrors,
      retryAfterMs:
        response.status === 429 || response.status === 503 ? parseRetryAfter(response.headers) : undefined,
    });
  }
}

function videoCall(method: Call['method'], id: number | string, options: RequestOptions): Call {
  return {
    method,
    route: '/streaming/videos/{id}',
    path: `/streaming/videos/${encodeId(id)}`,
    signal: options.signal,
  };
}

function encodeId(id: number | string): string {
  return encodeURIComponent(String(id));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function expectVideo(value: unknown, method: string, path: string): GcoreVideo {
  if (!isObject(value) || typeof value['id'] !== 'number') {
    throw new GcoreResponseError(method, path, 'something other than a video object');
  }
  return value as GcoreVideo;
}

/**
 * A fetch failure's own message never carries request headers, but a custom `fetch` might; keep
 * the cause only if the key is nowhere in it.
 */
function scrub(error: unknown, apiKey: string): unknown {
  const seen = new Set<unknown>();
  for (let e = error; e && typeof e === 'object' && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    const text = `${(e as { message?: unknown }).message ?? ''} ${(e as { stack?: unknown }).stack ?? ''}`;
    if (text.includes(apiKey)) return new Error(redact(String((error as Error).message ?? error), [apiKey]));
  }
  return error;
}
