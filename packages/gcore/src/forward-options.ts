/** The subset of a pino logger the forwarder writes to. Nothing logged carries the TUS token. */
export interface ForwardLogger {
  debug(details: Record<string, unknown>, message: string): void;
  info(details: Record<string, unknown>, message: string): void;
  warn(details: Record<string, unknown>, message: string): void;
}

/** `Upload-Metadata` Gcore requires on the TUS creation request. */
export interface ForwardMetadata {
  filename: string;
  /** MIME type, e.g. `video/mp4`. */
  filetype?: string;
  /** From the upload parameters; valid for 4 hours, only needed until the upload exists. */
  token: string;
  video_id: number | string;
  client_id: number | string;
}

export interface ForwardOptions {
  /** The local file; read slice by slice, never buffered whole. */
  filePath: string;
  /** TUS endpoint, usually from `chooseUploadEndpoint`. */
  endpoint: string;
  /** Resume this upload (HEAD → offset). A 404/410 there creates a new upload instead. */
  uploadUrl?: string;
  /** Bytes to upload. Default: the file's size from `fs.stat`. */
  size?: number;
  /**
   * SHA-256 (hex) the file must have: the bytes sent are hashed, and when the digest differs the
   * last piece is not sent and the forward rejects with `IntegrityMismatchError`. A function is
   * asked as the last piece goes out (a file still arriving: its digest is known only then).
   * Default: no check.
   */
  sha256?: string | (() => string | null | Promise<string | null>);
  /** Bytes per PATCH. Default 10 000 000 (Gcore's docs). Also bounds what a resume re-sends. */
  chunkSize?: number;
  metadata: ForwardMetadata;
  /** Aborts the upload (the TUS upload is kept) and rejects with `ForwardAbortedError`. */
  signal?: AbortSignal;
  /**
   * With no byte sent or acknowledged for this long, the request is abandoned and the upload
   * resumed from its URL. Default 60 000 ms.
   */
  stallTimeoutMs?: number;
  /** Stalls in a row (no acknowledged progress in between) before `ForwardStalledError`. Default 3. */
  maxStallRetries?: number;
  /**
   * Total time to spend waiting out 429s within this call: as `Retry-After` says, or a jittered
   * backoff from 1 s when it says nothing. Past it, a retryable `GcoreTusError` (429) carrying
   * `retryAfterMs` is thrown so the caller can reschedule. Default 120 000 ms.
   */
  maxRateLimitWaitMs?: number;
  /**
   * tus-js-client's delays between retries of 5xx/network failures within one run; each retry
   * resumes with a HEAD. Default [0, 1000, 3000, 5000].
   */
  retryDelays?: number[];
  /**
   * Called as soon as a TUS upload exists (and again if it had to be recreated). Awaited before any
   * byte is sent, so the caller can persist the URL first; if it throws, the forward fails with it.
   */
  onUploadUrl?: (url: string) => void | Promise<void>;
  /** Bytes the server has acknowledged (after each chunk, and the offset found on resume). */
  onProgress?: (bytesAcknowledged: number, total: number) => void;
  /**
   * The file is still being written (a relay streaming an upload while it arrives): each PATCH
   * waits until this resolves for its end offset (`last`: the PATCH that completes the upload).
   * Rejecting fails that PATCH (a `GcoreError` as itself). The wait counts as no stall. Without
   * it, the whole file is on disk.
   */
  available?: (end: number, last: boolean) => Promise<void>;
  /** A 429 is being waited out for this long. */
  onRateLimited?: (waitMs: number) => void;
  logger?: ForwardLogger;
}

export interface ForwardResult {
  uploadUrl: string;
  /** Body bytes this call put on the wire; more than `size - resumedFrom` means re-sends. */
  bytesSent: number;
  /** The offset this call started from: 0 for a new upload. */
  resumedFrom: number;
  /** Stalls recovered from within this call. */
  stallRestarts: number;
  /** Time spent waiting out 429s within this call. */
  rateLimitWaitMs: number;
}

export const FORWARD_DEFAULTS = {
  chunkSize: 10_000_000,
  stallTimeoutMs: 60_000,
  maxStallRetries: 3,
  maxRateLimitWaitMs: 120_000,
  retryDelays: [0, 1000, 3000, 5000],
} as const;
