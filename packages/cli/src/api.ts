import type { BatchPage, ErrorCode, JobKind, JobState, PublicBatch, PublicJob } from '@gtr/contract';
import { CliError } from './io.js';
import type { RelayTarget } from './target.js';

/** One item of `POST /api/imports` / `POST /api/imports/batch`. */
export interface ImportItem {
  origin_url: string;
  name?: string;
  description?: string;
  directory_id?: number;
  callback_url?: string;
  /** Who fetches the file: Gcore pulls it (default), or the relay downloads and uploads it. */
  via?: 'gcore' | 'relay';
  /**
   * Names the import instead of its URL (at most 512 characters): sending the same key again
   * returns its job whatever the URL, e.g. a fresh presigned URL of the same S3 object.
   */
  idempotency_key?: string;
}

export interface JobPage {
  items: PublicJob[];
  next: string | null;
}

export interface BatchRejection {
  index: number;
  error: { code: string; message: string };
}

export interface BatchResult {
  jobs: PublicJob[];
  /**
   * Parallel to `jobs`: whether this request created the job (false: it existed before, or
   * repeats an earlier item of the batch). Null from a relay that does not say.
   */
  created: boolean[] | null;
  rejected: BatchRejection[];
  /** The batch the jobs are in; null from a relay without batches (or when it has none to name). */
  batch: PublicBatch | null;
}

/** Which batch a batch import makes (`name`) or joins (`batch`). */
export interface BatchTarget {
  name?: string;
  batch?: string;
}

export interface ListJobsQuery {
  state?: JobState;
  kind?: JobKind;
  q?: string;
  batch?: string;
  limit?: number;
  cursor?: string;
}

/** Why a call to the relay did not work, classified once for every command. */
export type RelayErrorKind = 'unreachable' | 'timeout' | 'unauthorized' | 'http' | 'protocol';

export class RelayError extends CliError {
  constructor(
    message: string,
    readonly kind: RelayErrorKind,
    /** HTTP status, when the relay answered. */
    readonly status: number | null = null,
    /** The relay's error code (`JOB_NOT_FOUND`, …), when it sent one: maybe one this CLI does not know. */
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = 'RelayError';
  }

  /** Whether the relay answered with this code (typed, so a misspelt code does not compile). */
  is(code: ErrorCode): boolean {
    return this.code === code;
  }

  /** Worth trying again later: the relay was down, slow or had a server error. */
  get transient(): boolean {
    return this.kind === 'unreachable' || this.kind === 'timeout' || (this.status ?? 0) >= 500;
  }
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** The `code` of a network error, looking through fetch's and tus-js-client's wrappers. */
function networkCode(error: unknown): string | null {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    // AggregateError (happy eyeballs: one error per address tried).
    const inner = (current as { errors?: unknown[] }).errors;
    if (Array.isArray(inner)) {
      for (const e of inner) {
        const c = networkCode(e);
        if (c) return c;
      }
    }
    current = (current as { cause?: unknown }).cause ?? (current as { causingError?: unknown }).causingError;
  }
  return null;
}

/** A network-level failure (no HTTP answer) as a RelayError; null for anything else. */
export function relayNetworkError(error: unknown, target: RelayTarget): RelayError | null {
  const code = networkCode(error);
  if (!code) return null;
  if (code === 'ECONNREFUSED') {
    return new RelayError(
      `no relay answers at ${target.url}; start it with \`pnpm start\` (or set RELAY_URL / --url)`,
      'unreachable',
    );
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new RelayError(`cannot resolve the relay's host in ${target.url} (${code})`, 'unreachable');
  }
  return new RelayError(`lost the connection to the relay at ${target.url} (${code})`, 'unreachable');
}

/** An HTTP answer that is not a success, as a RelayError with the relay's own message. */
export function relayHttpError(
  status: number,
  bodyText: string,
  target: RelayTarget,
  what: string,
): RelayError {
  if (status === 401) {
    const hint =
      "set RELAY_TOKEN (or --token) to one of the relay's RELAY_API_TOKENS; `pnpm start` keeps a generated one in data/relay-token";
    return target.token === null
      ? new RelayError(`the relay wants a token and none was found; ${hint}`, 'unauthorized', 401)
      : new RelayError(
          `the relay refused the token (from ${target.tokenSource ?? 'the command line'}); ${hint}`,
          'unauthorized',
          401,
        );
  }
  let error: { code?: unknown; message?: unknown } | undefined;
  try {
    error = (JSON.parse(bodyText) as { error?: { code?: unknown; message?: unknown } }).error;
  } catch {
    error = undefined;
  }
  const code = typeof error?.code === 'string' ? error.code : null;
  const message = typeof error?.message === 'string' ? error.message : null;
  if (status === 404 && code === ('NOT_FOUND' satisfies ErrorCode)) {
    return new RelayError(
      `the relay at ${target.url} does not offer ${what} (an older relay, or RELAY_URL points elsewhere)`,
      'http',
      404,
      code,
    );
  }
  if (message) return new RelayError(message, 'http', status, code);
  return new RelayError(
    `${what} answered ${status} without a relay error (is ${target.url} the relay?)`,
    status >= 500 ? 'http' : 'protocol',
    status,
  );
}

export interface RelayClientOptions {
  target: RelayTarget;
  /** Default: the global fetch. */
  fetch?: typeof fetch | undefined;
  /** Per request, in ms. Default 30 000 (batch imports, which pre-flight every URL, get 10×). */
  timeoutMs?: number;
}

/** A small typed client for the relay's JSON API; every failure becomes a RelayError. */
export class RelayClient {
  readonly target: RelayTarget;
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;

  constructor(options: RelayClientOptions) {
    this.target = options.target;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** Checks the relay answers and takes the token, before a long operation starts. */
  async check(): Promise<void> {
    await this.request('GET', '/api/jobs?limit=1', 'the jobs API');
  }

  async getJob(id: string): Promise<PublicJob> {
    return (await this.request<PublicJob>('GET', `/api/jobs/${encodeURIComponent(id)}`, 'the jobs API')).body;
  }

  async listJobs(query: ListJobsQuery = {}): Promise<JobPage> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) params.set(key, String(value));
    }
    const qs = params.size > 0 ? `?${params}` : '';
    return (await this.request<JobPage>('GET', `/api/jobs${qs}`, 'the jobs API')).body;
  }

  async retryJob(id: string): Promise<PublicJob> {
    return (
      await this.request<PublicJob>('POST', `/api/jobs/${encodeURIComponent(id)}/retry`, 'the jobs API')
    ).body;
  }

  async cancelJob(id: string, options: { deleteVideo?: boolean } = {}): Promise<PublicJob> {
    const qs = options.deleteVideo ? '?delete_video=true' : '';
    return (
      await this.request<PublicJob>('DELETE', `/api/jobs/${encodeURIComponent(id)}${qs}`, 'the jobs API')
    ).body;
  }

  /** `POST /api/imports`: 202 with a new job, 200 with the job made for this URL before. */
  async createImport(item: ImportItem): Promise<{ job: PublicJob; existing: boolean }> {
    const res = await this.request<PublicJob>(
      'POST',
      '/api/imports',
      'the import API (POST /api/imports)',
      item,
    );
    return { job: res.body, existing: res.status === 200 };
  }

  /** `POST /api/imports/batch` (at most 10 000 items); sending a URL again returns its job. */
  async createImports(items: readonly ImportItem[], target: BatchTarget = {}): Promise<BatchResult> {
    const res = await this.request<Partial<BatchResult>>(
      'POST',
      '/api/imports/batch',
      'the import API (POST /api/imports/batch)',
      { ...target, items },
      this.timeoutMs * 10,
    );
    const jobs = res.body.jobs ?? [];
    const created = res.body.created;
    return {
      jobs,
      created: Array.isArray(created) && created.length === jobs.length ? created : null,
      rejected: res.body.rejected ?? [],
      batch: res.body.batch ?? null,
    };
  }

  /** `POST /api/batches`: an empty batch, for uploads to join. */
  async createBatch(name: string): Promise<PublicBatch> {
    return (await this.request<PublicBatch>('POST', '/api/batches', 'the batches API', { name })).body;
  }

  async getBatch(id: string): Promise<PublicBatch> {
    return (
      await this.request<PublicBatch>('GET', `/api/batches/${encodeURIComponent(id)}`, 'the batches API')
    ).body;
  }

  async listBatches(query: { limit?: number; cursor?: string } = {}): Promise<BatchPage> {
    const params = new URLSearchParams();
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.cursor !== undefined) params.set('cursor', query.cursor);
    const qs = params.size > 0 ? `?${params}` : '';
    return (await this.request<BatchPage>('GET', `/api/batches${qs}`, 'the batches API')).body;
  }

  async retryBatch(id: string): Promise<{ batch: PublicBatch; retried: number; refused: unknown[] }> {
    return (await this.request('POST', `/api/batches/${encodeURIComponent(id)}/retry`, 'the batches API'))
      .body as {
      batch: PublicBatch;
      retried: number;
      refused: unknown[];
    };
  }

  async cancelBatch(id: string): Promise<{ batch: PublicBatch; canceled: number }> {
    return (await this.request('DELETE', `/api/batches/${encodeURIComponent(id)}`, 'the batches API'))
      .body as {
      batch: PublicBatch;
      canceled: number;
    };
  }

  /** `GET /api/batches/{id}/export`: the rows as they arrive, written to `out` (never all held). */
  async exportBatch(
    id: string,
    format: 'csv' | 'json',
    out: { write(text: string): unknown },
  ): Promise<void> {
    const what = 'the batches API (export)';
    const headers: Record<string, string> = {};
    if (this.target.token !== null) headers.Authorization = `Bearer ${this.target.token}`;
    let res: Response;
    try {
      res = await this.fetch(
        `${this.target.url}/api/batches/${encodeURIComponent(id)}/export?format=${format}`,
        {
          headers,
        },
      );
    } catch (error) {
      throw (
        relayNetworkError(error, this.target) ??
        new RelayError(
          `cannot reach the relay at ${this.target.url}: ${(error as Error).message}`,
          'unreachable',
        )
      );
    }
    if (!res.ok) throw relayHttpError(res.status, await res.text(), this.target, what);
    const decoder = new TextDecoder();
    for await (const chunk of res.body ?? [])
      out.write(decoder.decode(chunk as Uint8Array, { stream: true }));
    const rest = decoder.decode();
    if (rest) out.write(rest);
  }

  private async request<T>(
    method: string,
    path: string,
    what: string,
    body?: unknown,
    timeoutMs = this.timeoutMs,
  ): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (this.target.token !== null) headers.Authorization = `Bearer ${this.target.token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    let text: string;
    const deadline = AbortSignal.timeout(timeoutMs);
    try {
      res = await this.fetch(`${this.target.url}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: deadline,
      });
      text = await res.text();
    } catch (error) {
      // Whatever fetch made of it: the deadline's firing is what says it timed out.
      if (deadline.aborted) {
        throw new RelayError(
          `the relay at ${this.target.url} did not answer within ${timeoutMs / 1000} s`,
          'timeout',
        );
      }
      throw (
        relayNetworkError(error, this.target) ??
        new RelayError(
          `cannot reach the relay at ${this.target.url}: ${(error as Error).message}`,
          'unreachable',
        )
      );
    }
    if (!res.ok) throw relayHttpError(res.status, text, this.target, what);
    try {
      return { status: res.status, body: JSON.parse(text) as T };
    } catch {
      throw new RelayError(
        `${what} answered with something that is not JSON (is ${this.target.url} the relay?)`,
        'protocol',
        res.status,
      );
    }
  }
}
