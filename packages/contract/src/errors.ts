/**
 * Every error code the relay, its workers and its Gcore client can produce: in an HTTP error
 * answer (`{"error": {"code", "message"}}`) or in a job's `error`. `docs/errors.md` is generated
 * from this table (`node scripts/errors-doc.mjs`), and a test fails when a code in the source is
 * missing here.
 */
export interface ErrorInfo {
  /** The HTTP status of the relay's answer; null for codes only ever seen in a job's `error`. */
  readonly status: number | null;
  /**
   * Whether trying the same thing again later can help, as a rule. An error can say otherwise for
   * its own case (its `retryable` field is what counts): e.g. ORIGIN_STATUS for an origin's 503.
   */
  readonly retryable: boolean;
  /** One line for users; also the message of an answer that has no more precise one. */
  readonly meaning: string;
}

export const ERROR_CODES = {
  // ---- any request ------------------------------------------------------------------------------
  UNAUTHORIZED: {
    status: 401,
    retryable: false,
    meaning: 'no relay token, or one this relay does not accept: send Authorization: Bearer <relay token>',
  },
  CROSS_SITE_REQUEST: {
    status: 403,
    retryable: false,
    meaning: 'with Basic auth, changes are accepted only from the relay’s own pages',
  },
  FORBIDDEN: {
    status: 403,
    retryable: false,
    meaning:
      'the token is valid, but its role may not do this (operator pages; bull-board changes need an admin)',
  },
  TOO_MANY_AUTH_FAILURES: {
    status: 429,
    retryable: true,
    meaning: 'too many requests without a valid relay token from this address; wait Retry-After seconds',
  },
  NOT_FOUND: { status: 404, retryable: false, meaning: 'no such route or asset' },
  INVALID_REQUEST: {
    status: 400,
    retryable: false,
    meaning: 'the request is not one the relay can take (the message says why)',
  },
  INVALID_JSON: { status: 400, retryable: false, meaning: 'the request body is not valid JSON' },
  BODY_TOO_LARGE: { status: 413, retryable: false, meaning: 'the request body is too large' },
  UNSUPPORTED_ENCODING: {
    status: 415,
    retryable: false,
    meaning: 'the request body has a Content-Encoding or charset the relay does not read',
  },
  BAD_REQUEST: { status: 400, retryable: false, meaning: 'the request is not valid HTTP/1.1' },
  HEADERS_TOO_LARGE: {
    status: 431,
    retryable: false,
    meaning: 'the request headers are too large (16 KB at most)',
  },
  REQUEST_TIMEOUT: {
    status: 408,
    retryable: true,
    meaning: 'the request headers (or a webhook body) did not arrive in time',
  },
  INTERNAL_ERROR: { status: 500, retryable: true, meaning: 'the relay could not handle this request' },
  SERVICE_UNAVAILABLE: {
    status: 503,
    retryable: true,
    meaning: 'the relay cannot take this request right now; try again shortly',
  },
  SHUTTING_DOWN: { status: 503, retryable: true, meaning: 'the relay is stopping' },
  QUEUE_UNAVAILABLE: {
    status: 503,
    retryable: true,
    meaning:
      'the relay cannot record or queue the job right now (Redis); send it again, nothing is duplicated',
  },

  // ---- jobs API ---------------------------------------------------------------------------------
  JOB_NOT_FOUND: { status: 404, retryable: false, meaning: 'no job with this id' },
  INVALID_QUERY: { status: 400, retryable: false, meaning: 'a query parameter of the job list is not valid' },
  JOB_NOT_FAILED: { status: 409, retryable: false, meaning: 'only failed jobs can be retried' },
  BATCH_NOT_FOUND: {
    status: 404,
    retryable: false,
    meaning: 'no batch with this id (or it passed JOB_RETENTION and was removed)',
  },
  JOB_FINISHED: {
    status: 409,
    retryable: false,
    meaning: 'the job is ready; cancel it with ?delete_video=true to delete the video too',
  },
  FILE_GONE: {
    status: 409,
    retryable: false,
    meaning: 'the uploaded file is no longer on the relay (or was never finished); upload it again',
  },

  // ---- TUS uploads (/files/) --------------------------------------------------------------------
  MISSING_FILENAME: { status: 400, retryable: false, meaning: 'Upload-Metadata must carry a filename' },
  INVALID_FIELD: {
    status: 400,
    retryable: false,
    meaning: 'a metadata or import field has a value the relay does not take (the message names it)',
  },
  UNSUPPORTED_FORMAT: {
    status: 415,
    retryable: false,
    meaning: 'not a video format Gcore accepts as an original (HLS/DASH manifests and segments included)',
  },
  UPLOAD_TOO_LARGE: { status: 413, retryable: false, meaning: 'the file is larger than MAX_UPLOAD_SIZE' },
  METADATA_TOO_LARGE: { status: 431, retryable: false, meaning: 'Upload-Metadata is over 8 KiB' },
  TUS_VERSION_MISMATCH: {
    status: 412,
    retryable: false,
    meaning: 'this server speaks TUS 1.0.0 (Tus-Resumable: 1.0.0)',
  },
  INVALID_CONTENT_TYPE: {
    status: 415,
    retryable: false,
    meaning: 'a PATCH must have Content-Type: application/offset+octet-stream',
  },
  MISSING_UPLOAD_OFFSET: { status: 400, retryable: false, meaning: 'a PATCH must carry Upload-Offset' },
  OFFSET_CONFLICT: {
    status: 409,
    retryable: false,
    meaning: 'Upload-Offset is not where the upload stands; HEAD it and resume from its offset',
  },
  INVALID_CHECKSUM: {
    status: 400,
    retryable: false,
    meaning:
      'Upload-Checksum must be an algorithm, a space, a base64 digest (or a promised trailer is missing); nothing kept',
  },
  CHECKSUM_ALGORITHM_UNSUPPORTED: {
    status: 400,
    retryable: false,
    meaning:
      'Upload-Checksum names an algorithm not in Tus-Checksum-Algorithm (OPTIONS /files/); nothing was kept',
  },
  CHECKSUM_MISMATCH: {
    status: 460,
    retryable: true,
    meaning:
      'the bytes do not match Upload-Checksum (changed on the way, or cut off); none were kept: send them again',
  },
  UPLOAD_NOT_FOUND: { status: 404, retryable: false, meaning: 'no upload at this URL' },
  UPLOAD_EXPIRED: {
    status: 410,
    retryable: false,
    meaning:
      'the upload took no byte for UPLOAD_EXPIRY before it finished and was removed; upload the file again',
  },
  UPLOAD_LOCKED: {
    status: 423,
    retryable: true,
    meaning: 'another request is writing to this upload right now; try again in a moment',
  },
  NOT_SUPPORTED: {
    status: 501,
    retryable: false,
    meaning: 'a TUS feature or method the relay does not offer',
  },
  INSUFFICIENT_STORAGE: {
    status: 507,
    retryable: true,
    meaning: 'the relay has no room for this upload right now; try again later',
  },
  RANGE_NOT_SATISFIABLE: {
    status: 416,
    retryable: false,
    meaning: 'the Range of a download starts at or past the upload’s end (Content-Range gives its length)',
  },
  UPLOAD_QUOTA_EXCEEDED: {
    status: 429,
    retryable: true,
    meaning: 'the tool is at TOOL_MAX_OPEN_UPLOADS or TOOL_MAX_OPEN_BYTES: finish or terminate uploads first',
  },
  CONCAT_INVALID: {
    status: 400,
    retryable: false,
    meaning: 'Upload-Concat must be `partial`, or `final;` and the space-separated URLs of partial uploads',
  },
  CONCAT_NOT_PARTIAL: {
    status: 400,
    retryable: false,
    meaning: 'an upload named in Upload-Concat: final was not created with Upload-Concat: partial',
  },
  CONCAT_PARTIAL_UNFINISHED: {
    status: 400,
    retryable: false,
    meaning: 'a partial upload named in Upload-Concat: final is not finished; finish it, then send the final',
  },
  CONCAT_FINAL_IMMUTABLE: {
    status: 403,
    retryable: false,
    meaning: 'a final upload is complete when created: its creation takes no body, and it takes no PATCH',
  },

  // ---- imports (/api/imports) -------------------------------------------------------------------
  INVALID_BATCH: { status: 400, retryable: false, meaning: 'the body must be {"items": [import, …]}' },
  BATCH_TOO_LARGE: { status: 413, retryable: false, meaning: 'a batch has more items than the relay takes' },
  INVALID_ORIGIN_URL: {
    status: 400,
    retryable: false,
    meaning: 'origin_url is missing, not an http(s) URL, or not a video file Gcore accepts',
  },
  ORIGIN_NOT_ALLOWED: {
    status: 400,
    retryable: false,
    meaning: 'origin_url is, or resolves to, a loopback, private, link-local or metadata address',
  },
  ORIGIN_UNREACHABLE: {
    status: 422,
    retryable: false,
    meaning: 'the pre-flight check of origin_url got no 200/206 answer (retryable when it timed out)',
  },
  IMPORT_IN_PROGRESS: {
    status: 409,
    retryable: true,
    meaning: 'another request is importing this origin_url right now; send it again in a moment',
  },

  // ---- the relay's own fetches (pre-flight, via "relay" downloads) -------------------------------
  INVALID_URL: { status: 400, retryable: false, meaning: 'the URL cannot be parsed' },
  UNSUPPORTED_SCHEME: { status: 400, retryable: false, meaning: 'only http and https URLs are fetched' },
  ADDRESS_NOT_ALLOWED: {
    status: 400,
    retryable: false,
    meaning: 'the host is, or resolves to, an address the relay does not fetch (IMPORT_ALLOW_PRIVATE)',
  },
  DNS_FAILED: {
    status: 422,
    retryable: false,
    meaning: 'the host name does not resolve (retryable when the DNS lookup timed out)',
  },
  CONNECTION_FAILED: {
    status: 502,
    retryable: true,
    meaning: 'the connection to the origin failed (not retryable for certificate errors)',
  },
  TOO_MANY_REDIRECTS: { status: 422, retryable: false, meaning: 'the origin redirects more than 5 times' },
  FETCH_TIMEOUT: { status: 504, retryable: true, meaning: 'the origin did not answer, or stalled, in time' },
  TOO_LARGE: { status: 413, retryable: false, meaning: 'the origin file is larger than MAX_UPLOAD_SIZE' },
  ORIGIN_STATUS: {
    status: 502,
    retryable: false,
    meaning: 'the origin answered the download with an error status (retryable for 5xx and 429)',
  },
  DOWNLOAD_INCOMPLETE: {
    status: 502,
    retryable: true,
    meaning: 'the download stopped before the end of the file; trying again resumes it',
  },

  // ---- forwarding (job errors) ------------------------------------------------------------------
  FILE_MISSING: {
    status: null,
    retryable: false,
    meaning: 'the uploaded file is no longer on the relay; upload it again',
  },
  FILE_INCOMPLETE: {
    status: null,
    retryable: false,
    meaning: 'the local file is shorter than the upload; upload it again',
  },
  JOB_CANCELED: {
    status: null,
    retryable: false,
    meaning: 'the job was canceled while a worker had it; the worker stops',
  },
  FORWARD_FAILED: {
    status: null,
    retryable: true,
    meaning:
      'forwarding to Gcore failed for a reason the message gives; a retry starts from where it stopped',
  },
  FORWARD_STALLED: {
    status: null,
    retryable: true,
    meaning: 'the upload to Gcore moved no byte for the stall timeout, several times in a row',
  },
  FORWARD_ABORTED: {
    status: null,
    retryable: false,
    meaning: 'the upload to Gcore was stopped (cancel or shutdown); it resumes from its offset',
  },
  FORWARD_FILE_UNREADABLE: {
    status: null,
    retryable: false,
    meaning: 'the relay cannot read the file to forward',
  },
  UPLOAD_INTEGRITY_MISMATCH: {
    status: null,
    retryable: true,
    meaning:
      'the file on the relay’s disk no longer matches what the tool sent (sha256); Gcore never got it whole',
  },

  // ---- Gcore's API (job errors) -----------------------------------------------------------------
  GCORE_NO_API_KEY: {
    status: null,
    retryable: false,
    meaning: 'the relay has no Gcore API key (GCORE_API_KEY)',
  },
  GCORE_BAD_REQUEST: { status: null, retryable: false, meaning: 'Gcore refused the request (400)' },
  GCORE_UNAUTHORIZED: {
    status: null,
    retryable: false,
    meaning: 'Gcore refused the API key (401): check GCORE_API_KEY',
  },
  GCORE_FORBIDDEN: {
    status: null,
    retryable: false,
    meaning: 'the Gcore API key lacks permission for this (403)',
  },
  GCORE_NOT_FOUND: { status: null, retryable: false, meaning: 'Gcore has no such video or resource (404)' },
  GCORE_METHOD_NOT_ALLOWED: { status: null, retryable: false, meaning: 'Gcore refused the method (405)' },
  GCORE_REQUEST_TIMEOUT: { status: null, retryable: true, meaning: 'Gcore timed out the request (408)' },
  GCORE_CONFLICT: { status: null, retryable: true, meaning: 'Gcore reported a conflict (409)' },
  GCORE_PAYLOAD_TOO_LARGE: {
    status: null,
    retryable: false,
    meaning: 'Gcore refused the request as too large (413)',
  },
  GCORE_VALIDATION_FAILED: {
    status: null,
    retryable: false,
    meaning: 'Gcore refused a field value (422); the message names the fields',
  },
  GCORE_TOO_EARLY: { status: null, retryable: true, meaning: 'Gcore asked to try again later (425)' },
  GCORE_RATE_LIMITED: {
    status: null,
    retryable: true,
    meaning: 'Gcore rate-limited the API call (429); the relay waits and goes on',
  },
  GCORE_SERVER_ERROR: { status: null, retryable: true, meaning: 'Gcore answered with a server error (5xx)' },
  GCORE_UNEXPECTED_STATUS: {
    status: null,
    retryable: false,
    meaning: 'Gcore answered with a status the relay does not expect',
  },
  GCORE_INVALID_RESPONSE: {
    status: null,
    retryable: true,
    meaning: 'Gcore answered with a body the relay cannot read (a proxy page or a cut answer)',
  },
  GCORE_NETWORK_ERROR: {
    status: null,
    retryable: true,
    meaning: 'the connection to Gcore failed (refused, reset, DNS, TLS)',
  },
  GCORE_TIMEOUT: { status: null, retryable: true, meaning: 'Gcore gave no answer in time' },
  GCORE_ABORTED: { status: null, retryable: false, meaning: 'the call to Gcore was stopped by the relay' },
  GCORE_BATCH_SIZE: {
    status: null,
    retryable: false,
    meaning: 'a batch create was given more videos than Gcore takes in one call',
  },
  GCORE_NO_UPLOAD_SERVER: {
    status: null,
    retryable: false,
    meaning: 'Gcore returned no upload server for the video',
  },
  GCORE_INSECURE_UPLOAD_SERVER: {
    status: null,
    retryable: false,
    meaning: 'Gcore offered only upload servers without TLS (ssl: false); see GCORE_ALLOW_INSECURE_UPLOAD',
  },

  // ---- Gcore's TUS server (job errors) ----------------------------------------------------------
  GCORE_TUS_RATE_LIMITED: {
    status: null,
    retryable: true,
    meaning: 'Gcore’s upload server rate-limited a PATCH (429); the relay waits and resumes',
  },
  GCORE_TUS_UPLOAD_GONE: {
    status: null,
    retryable: false,
    meaning: 'Gcore’s upload server no longer knows the upload (404/410)',
  },
  GCORE_TUS_METHOD_NOT_ALLOWED: {
    status: null,
    retryable: false,
    meaning: 'Gcore refused to create the upload session (405): the request parameters are wrong',
  },
  GCORE_TUS_SERVER_ERROR: {
    status: null,
    retryable: true,
    meaning: 'Gcore’s upload server answered with a server error (5xx)',
  },
  GCORE_TUS_REJECTED: {
    status: null,
    retryable: false,
    meaning: 'Gcore’s upload server refused the request (4xx; retryable for 408/409/425)',
  },
  GCORE_TUS_TOKEN_INVALID: {
    status: null,
    retryable: true,
    meaning: 'the upload token is missing, wrong or older than 4 hours; the relay fetches a fresh one',
  },
  GCORE_TUS_TOKEN_VIDEO_MISMATCH: {
    status: null,
    retryable: true,
    meaning: 'the upload token was issued for another video; the relay fetches a fresh one',
  },
  GCORE_TUS_TOKEN_CLIENT_MISMATCH: {
    status: null,
    retryable: true,
    meaning: 'the upload token was issued for another client; the relay fetches a fresh one',
  },

  // ---- Gcore's processing (job errors) ----------------------------------------------------------
  GCORE_REJECTED: {
    status: null,
    retryable: false,
    meaning: 'Gcore refused the file (e.g. "File Invalid"); the message is Gcore’s',
  },
  GCORE_PROCESSING_FAILED: {
    status: null,
    retryable: true,
    meaning: 'Gcore could not process the video; the message is Gcore’s, a retry uploads it afresh',
  },
  GCORE_PROCESSING_TIMEOUT: {
    status: null,
    retryable: true,
    meaning: 'Gcore has not finished processing the video in the time the relay waits',
  },
  GCORE_PROCESSING_HALTED: {
    status: null,
    retryable: false,
    meaning:
      'Gcore stopped short of ready for good (at viewable, with an error or a failed rendition); the message is Gcore’s',
  },
  PROCESSING_STALLED: {
    status: null,
    retryable: true,
    meaning:
      'Gcore’s processing made no progress for the time the relay waits; the message says what was last seen',
  },
  GCORE_VIDEO_GONE: {
    status: null,
    retryable: false,
    meaning: 'Gcore no longer has the video (deleted outside the relay?)',
  },
} as const satisfies Record<string, ErrorInfo>;

/** Every code in the catalogue. */
export type ErrorCode = keyof typeof ERROR_CODES;

export const isErrorCode = (value: unknown): value is ErrorCode =>
  typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);

export const errorInfo = (code: ErrorCode): ErrorInfo => ERROR_CODES[code];

/** Every error answer of the relay, TUS included. */
export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    /** Present on some answers (TUS hook refusals): whether sending it again later can help. */
    retryable?: boolean;
  };
}
