import type {
  ApiPacer,
  CreateLocks,
  GcoreVideoFields,
  HostEntry,
  JobLifecycle,
  JobRepository,
  Logger,
  RelayQueues,
  ResolveHost,
  StatsCounters,
  UploadFeed,
  UploadManifests,
  UploadWatcher,
} from '@gtr/core';
import type { GcoreClient } from '@gtr/gcore';
import type { CreateBatcher } from './batching/create-batcher.js';
import type { StatusBoard } from './batching/status-board.js';
import type { CancelRegistry } from './cancellation.js';
import type { WorkerMetrics } from './metrics.js';

export interface WorkerSettings {
  /** Uploads are read from `DATA_DIR/uploads`. */
  dataDir: string;
  /** Bytes per PATCH to Gcore. */
  chunkSize: number;
  /** Forwards at once in this process. */
  concurrency: number;
  /** Imports Gcore pulls itself, handled at once in this process (API calls only). Default 100. */
  importConcurrency?: number;
  completeOn: 'uploaded' | 'viewable' | 'ready';
  keepFiles: boolean;
  /** HMAC key for callbacks; without it callbacks go unsigned. */
  callbackSecret?: string | undefined;
  /**
   * CALLBACK_LEGACY_SIGNATURE (deprecated): also send `X-Relay-Signature`, which signs no time and
   * so can be replayed. Default false: only `X-Relay-Signature-256`.
   */
  callbackLegacySignature?: boolean;
  /** Callbacks may reach loopback/private addresses (CALLBACK_ALLOW_PRIVATE). Default false. */
  callbackAllowPrivate?: boolean;
  /** Hosts (host or host:port) callbacks may reach whatever they resolve to (CALLBACK_ALLOWED_HOSTS). Default none. */
  callbackAllowedHosts?: readonly HostEntry[];
  /** No byte acknowledged for this long → abort and resume. Default 60 s. */
  stallTimeoutMs?: number;
  /**
   * A forward streaming an upload (FORWARD_MODE=stream) whose tool sends nothing for this long gives
   * its FORWARD_CONCURRENCY slot back: the job waits, delayed, and goes on from its Gcore upload as
   * soon as the relay announces more bytes. Default 30 s.
   */
  streamParkAfterMs?: number;
  /** Fetch fresh upload parameters when the saved token is older. Default 3.5 h (tokens live 4 h). */
  tokenMaxAgeMs?: number;
  /** Polling of Gcore's processing backs off from `first` to `max`. Default 1 s → 30 s. */
  trackIntervalMs?: { first: number; max: number };
  /** Give up following processing after this long. Default 24 h. */
  trackTimeoutMs?: number;
  /**
   * A video whose status and renditions' progress stay the same this long ends `failed`
   * (PROCESSING_STALLED). Default 2 h.
   */
  trackStallMs?: number;
  /**
   * Upload to servers Gcore lists with `ssl: false`, over plain http (GCORE_ALLOW_INSECURE_UPLOAD, or
   * the built-in emulator). Default false: the token would travel in clear text.
   */
  allowInsecureUpload?: boolean;
  /** `via: "relay"` imports may fetch loopback/private addresses (IMPORT_ALLOW_PRIVATE). Default false. */
  importAllowPrivate?: boolean;
  /** Largest file a `via: "relay"` import may download (MAX_UPLOAD_SIZE); 0 = no limit. */
  maxUploadSize?: number;
  /**
   * Create-video fields every video gets unless the job's own request sets them
   * (GCORE_VIDEO_DEFAULTS, validated at start). Default none.
   */
  videoDefaults?: GcoreVideoFields;
}

/** What every processor needs: built once per worker process in createWorker. */
export interface WorkerContext {
  settings: Required<Omit<WorkerSettings, 'callbackSecret'>> & { callbackSecret: string | undefined };
  uploadDir: string;
  /** Reads jobs and saves their fields; states change only through `lifecycle`. */
  jobs: JobRepository;
  lifecycle: JobLifecycle;
  manifests: UploadManifests;
  queues: RelayQueues;
  gcore: GcoreClient;
  /** At most one unrecorded create per video name in the fleet (see forward/create-lock.ts). */
  createLocks: CreateLocks;
  /** Batches imports' create calls (Gcore's batch endpoint). */
  creator: CreateBatcher;
  /** Shares status lookups of tracked videos (list pages). */
  statuses: StatusBoard;
  pacer: ApiPacer;
  stats: StatsCounters;
  cancels: CancelRegistry;
  /** What the relay has received of uploads still arriving (FORWARD_MODE=stream). */
  feed: UploadFeed;
  /** Waits on the relay's announcements of those uploads. */
  watcher: UploadWatcher;
  metrics: WorkerMetrics;
  logger: Logger;
  now: () => number;
  /** Name resolution for the worker's own guarded fetches (callbacks). */
  resolve: ResolveHost;
}
