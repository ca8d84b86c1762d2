/** How a 429 tells the client how long to wait. */
export type RetryAfterForm = 'seconds' | 'http-date' | 'ms' | 'none';

/**
 * Failure switches. Counters behind the every-Nth switches restart whenever the faults change, so
 * "every 2nd PATCH" means the 2nd, 4th, … PATCH after the switch was set.
 */
export interface Faults {
  /** Max API requests per second (sliding 1 s window of admitted requests) before 429. 0 = off. Default 0. */
  apiRateLimit: number;
  /** How every 429 (API and PATCH) advertises its wait. Default `seconds`. */
  retryAfter: RetryAfterForm;
  /** The wait advertised by every-Nth 429s, in ms. Default 1000. */
  retryAfterMs: number;
  /** Every Nth API request answers 429. 0 = off. Default 0. */
  api429EveryN: number;
  /** Every Nth API request answers 503. 0 = off. Default 0. */
  api5xxEveryN: number;
  /** Every Nth PATCH to `/upload` answers 429 without reading its body. 0 = off. Default 0. */
  patch429EveryN: number;
  /** Every Nth PATCH to `/upload` answers 503 without reading its body. 0 = off. Default 0. */
  patch5xxEveryN: number;
  /** Every Nth PATCH: half its body is stored, then the socket is destroyed. 0 = off. Default 0. */
  patchDropEveryN: number;
  /** Every Nth PATCH: nothing is read and nothing answered, ever. 0 = off. Default 0. */
  patchStallEveryN: number;
  /** Cap on the rate PATCH bodies are read, shared by all uploads. 0 = unlimited. Default 0. */
  bandwidthBytesPerSec: number;
  /** Lifetime of an upload token. Default 4 h, as Gcore documents. */
  tokenTtlMs: number;
  /** Duration of each processing step (pending→viewable, viewable→ready). Default 100 ms. */
  processingStepMs: number;
  /** When set, processing ends in status `error` with this text. Default null. */
  processingError: string | null;
  /** `object` (the docs) or `array` (OpenAPI file and SDKs): the create-video answer's shape. Default `object`. */
  createResponse: 'object' | 'array';
  /**
   * Order of `POST /streaming/videos/batch`'s answer: Gcore's OpenAPI file documents an array of
   * videos but not its order. Default `request`.
   */
  batchOrder: 'request' | 'reversed' | 'shuffled';
  /**
   * 0: the batch endpoint works. 403/404/405: it answers that status (the docs page calls batch
   * upload "available soon, ask support", so an account may not have it). Default 0.
   */
  batchStatus: 0 | 403 | 404 | 405;
  /**
   * A slow batch: after creating its videos, the batch endpoint waits this many ms per video
   * before it answers (Gcore's API connection timeout is 30 s). Default 0.
   */
  batchDelayMs: number;
  /**
   * A slow single create (`POST /streaming/videos`): the video is made at once, its answer waits
   * this many ms (and may come after the client gave up). Default 0.
   */
  createDelayMs: number;
  /** Order of `GET /streaming/videos` (undocumented upstream): `newest` or `oldest` first. Default `newest`. */
  listOrder: 'newest' | 'oldest';
  /**
   * When set, processing stops for good at `viewable` with this text in `error` and the highest
   * rendition in `error` (Gcore's own example: "The storage limit has been exceeded"). Default null.
   */
  halfFailed: string | null;
  /**
   * Every Nth create call (`POST /streaming/videos` or `/batch`): the videos are made, then the
   * connection is destroyed without an answer (a create whose answer was lost). 0 = off. Default 0.
   */
  createDropEveryN: number;
}

export const DEFAULT_FAULTS: Readonly<Faults> = Object.freeze({
  apiRateLimit: 0,
  retryAfter: 'seconds',
  retryAfterMs: 1_000,
  api429EveryN: 0,
  api5xxEveryN: 0,
  patch429EveryN: 0,
  patch5xxEveryN: 0,
  patchDropEveryN: 0,
  patchStallEveryN: 0,
  bandwidthBytesPerSec: 0,
  tokenTtlMs: 4 * 3_600_000,
  processingStepMs: 100,
  processingError: null,
  createResponse: 'object',
  batchOrder: 'request',
  batchStatus: 0,
  batchDelayMs: 0,
  createDelayMs: 0,
  listOrder: 'newest',
  halfFailed: null,
  createDropEveryN: 0,
});

const COUNTS = [
  'apiRateLimit',
  'retryAfterMs',
  'api429EveryN',
  'api5xxEveryN',
  'patch429EveryN',
  'patch5xxEveryN',
  'patchDropEveryN',
  'patchStallEveryN',
  'bandwidthBytesPerSec',
  'tokenTtlMs',
  'processingStepMs',
  'batchDelayMs',
  'createDelayMs',
  'createDropEveryN',
] as const satisfies readonly (keyof Faults)[];

const RETRY_AFTER_FORMS: readonly RetryAfterForm[] = ['seconds', 'http-date', 'ms', 'none'];

export class FaultsError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid faults: ${problems.join('; ')}`);
    this.name = 'FaultsError';
  }
}

/** Checks a faults patch from JSON (environment or control endpoint); throws FaultsError naming each bad key. */
export function parseFaults(input: unknown): Partial<Faults> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new FaultsError(['expected a JSON object']);
  }
  const patch: Partial<Record<keyof Faults, unknown>> = {};
  const problems: string[] = [];
  for (const [key, value] of Object.entries(input)) {
    if ((COUNTS as readonly string[]).includes(key)) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        problems.push(`${key}: expected a number >= 0, got ${JSON.stringify(value)}`);
      } else patch[key as keyof Faults] = value;
    } else if (key === 'retryAfter') {
      if (!RETRY_AFTER_FORMS.includes(value as RetryAfterForm)) {
        problems.push(
          `retryAfter: expected one of ${RETRY_AFTER_FORMS.join(', ')}, got ${JSON.stringify(value)}`,
        );
      } else patch.retryAfter = value;
    } else if (key === 'processingError') {
      if (value !== null && typeof value !== 'string') {
        problems.push(`processingError: expected a string or null, got ${JSON.stringify(value)}`);
      } else patch.processingError = value === '' ? null : value;
    } else if (key === 'createResponse') {
      if (value !== 'object' && value !== 'array') {
        problems.push(`createResponse: expected object or array, got ${JSON.stringify(value)}`);
      } else patch.createResponse = value;
    } else if (key === 'batchOrder') {
      if (value !== 'request' && value !== 'reversed' && value !== 'shuffled') {
        problems.push(`batchOrder: expected request, reversed or shuffled, got ${JSON.stringify(value)}`);
      } else patch.batchOrder = value;
    } else if (key === 'batchStatus') {
      if (value !== 0 && value !== 403 && value !== 404 && value !== 405) {
        problems.push(`batchStatus: expected 0, 403, 404 or 405, got ${JSON.stringify(value)}`);
      } else patch.batchStatus = value;
    } else if (key === 'listOrder') {
      if (value !== 'newest' && value !== 'oldest') {
        problems.push(`listOrder: expected newest or oldest, got ${JSON.stringify(value)}`);
      } else patch.listOrder = value;
    } else if (key === 'halfFailed') {
      if (value !== null && typeof value !== 'string') {
        problems.push(`halfFailed: expected a string or null, got ${JSON.stringify(value)}`);
      } else patch.halfFailed = value === '' ? null : value;
    } else {
      problems.push(`${key}: unknown fault`);
    }
  }
  if (problems.length > 0) throw new FaultsError(problems);
  return patch as Partial<Faults>;
}

/** The live fault settings and the counters behind the every-Nth switches. */
export class FaultSwitches {
  #initial: Faults;
  #current: Faults;
  #apiCount = 0;
  #patchCount = 0;
  #createCount = 0;

  constructor(initial: Partial<Faults> = {}) {
    this.#initial = { ...DEFAULT_FAULTS, ...parseFaults(initial) };
    this.#current = { ...this.#initial };
  }

  get current(): Readonly<Faults> {
    return this.#current;
  }

  set(patch: Partial<Faults>): void {
    this.#current = { ...this.#current, ...parseFaults(patch) };
    this.#restartCounts();
  }

  /** Back to the faults the emulator was started with. */
  reset(): void {
    this.#current = { ...this.#initial };
    this.#restartCounts();
  }

  /** Counts one API request; returns its number since the faults last changed. */
  nextApiRequest(): number {
    return ++this.#apiCount;
  }

  /** Counts one PATCH; returns its number since the faults last changed. */
  nextPatch(): number {
    return ++this.#patchCount;
  }

  /** Counts one create call (single or batch); returns its number since the faults last changed. */
  nextCreate(): number {
    return ++this.#createCount;
  }

  #restartCounts(): void {
    this.#apiCount = 0;
    this.#patchCount = 0;
    this.#createCount = 0;
  }
}

export function isEveryNth(count: number, n: number): boolean {
  return n > 0 && count % Math.floor(n) === 0;
}

/** Headers that advertise a wait of `waitMs` in the configured form. */
export function retryAfterHeaders(form: RetryAfterForm, waitMs: number): Record<string, string> {
  const ms = Math.max(0, Math.ceil(waitMs));
  switch (form) {
    case 'seconds':
      return { 'Retry-After': String(Math.ceil(ms / 1_000)) };
    case 'http-date':
      // An HTTP date has whole seconds; round up so a client never retries early. Wall-clock time,
      // not the emulator's clock: the client compares it with its own.
      return { 'Retry-After': new Date(Math.ceil((Date.now() + ms) / 1_000) * 1_000).toUTCString() };
    case 'ms':
      return { 'retry-after-ms': String(ms) };
    case 'none':
      return {};
  }
}
