import { GiB, MB, MiB } from './lib/stats.js';

export type Mode = 'full' | 'quick';

/** Sizes and counts of one run. `--quick` keeps every measurement, smaller and fewer. */
export interface Plan {
  mode: Mode;
  /** The "1 GiB" file of ingest, forward and end to end. */
  bigBytes: number;
  /** Repetitions of each case (ingest, forward, end to end); medians are reported. */
  iterations: { ingest: number; forward: number; endToEnd: number };
  /** FORWARD_CHUNK_SIZE's default, and the "10 MB chunks" of the anchors. */
  chunkBytes: number;
  memory: {
    concurrentUploads: number;
    concurrentBytes: number;
    /** Forwarded at once by one worker (FORWARD_CONCURRENCY). */
    workerFiles: number;
    workerSmallBytes: number;
    workerBigBytes: number;
  };
  latency: { uploads: number; bytes: number; defaultRpsUploads: number };
  /** `windowSeconds`: processing is watched until every job is ready, or this long. */
  queue: { items: number; windowSeconds: number; rps: number };
  /**
   * 8. Scale: `lockerRuns` repetitions of the big file (10 MB chunks) per locker; `uploads`
   * concurrent uploads of 1/`uploads` of the big file each, to one relay and across `relays`,
   * `runs` repetitions per case. Medians are reported.
   */
  scale: { lockerRuns: number; uploads: number; relays: number; runs: number };
  /** 9. Checksum: one upload of `bytes` in `chunkBytes` PATCHes per case, `runs` times; medians. */
  checksum: { bytes: number; runs: number };
  /**
   * 10. Paced: one upload of `bytes` sent by the client at `bytesPerSec`, the emulator's link capped
   * at the same rate, through a stream relay and a store relay, `runs` times each; medians.
   */
  paced: { bytes: number; bytesPerSec: number; runs: number };
  /**
   * 11. Migrations: `items` imports in one batch with `processingSeconds` of emulator processing at
   * GCORE_API_RPS=`rps`; `searchJobs` jobs for the query timings (`requests` each); `memoryJobs`
   * finished jobs for the bytes per job.
   */
  migration: {
    items: number;
    processingSeconds: number;
    rps: number;
    searchJobs: number;
    requests: number;
    memoryJobs: number;
  };
}

export function planFor(mode: Mode): Plan {
  if (mode === 'quick') {
    return {
      mode,
      bigBytes: 64 * MiB,
      iterations: { ingest: 1, forward: 1, endToEnd: 1 },
      chunkBytes: 10 * MB,
      memory: {
        concurrentUploads: 50,
        concurrentBytes: 10 * MB,
        workerFiles: 4,
        workerSmallBytes: 10 * MB,
        workerBigBytes: 64 * MiB,
      },
      latency: { uploads: 30, bytes: 256 * 1024, defaultRpsUploads: 4 },
      queue: { items: 1_000, windowSeconds: 15, rps: 50 },
      // 64 MiB runs take a fraction of a second: a few more than one, or the medians are one draw.
      scale: { lockerRuns: 9, uploads: 6, relays: 3, runs: 5 },
      checksum: { bytes: 256 * MiB, runs: 3 },
      paced: { bytes: 64 * MiB, bytesPerSec: 50 * MB, runs: 1 },
      // The targets are stated at these sizes: quick keeps them (the section takes a few minutes).
      migration: {
        items: 10_000,
        processingSeconds: 10,
        rps: 4,
        searchJobs: 100_000,
        requests: 100,
        memoryJobs: 10_000,
      },
    };
  }
  return {
    mode,
    bigBytes: GiB,
    iterations: { ingest: 7, forward: 5, endToEnd: 3 },
    chunkBytes: 10 * MB,
    memory: {
      concurrentUploads: 50,
      concurrentBytes: 100 * MB,
      workerFiles: 4,
      workerSmallBytes: 100 * MB,
      workerBigBytes: GiB,
    },
    latency: { uploads: 200, bytes: 256 * 1024, defaultRpsUploads: 20 },
    queue: { items: 10_000, windowSeconds: 120, rps: 50 },
    scale: { lockerRuns: 11, uploads: 6, relays: 3, runs: 5 },
    checksum: { bytes: GiB, runs: 5 },
    // 1 GiB at 50 MB/s: ~21 s per stream run, ~43 s per store run (the forward starts at the end).
    paced: { bytes: GiB, bytesPerSec: 50 * MB, runs: 3 },
    migration: {
      items: 10_000,
      processingSeconds: 10,
      rps: 4,
      searchJobs: 100_000,
      requests: 300,
      memoryJobs: 50_000,
    },
  };
}

/** "1 GiB", "64 MiB", "100 MB", "256 KiB". */
export function formatSize(bytes: number): string {
  if (bytes % GiB === 0) return `${bytes / GiB} GiB`;
  if (bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes % MB === 0) return `${bytes / MB} MB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}
