/*
 * Every Redis key and pub/sub channel of the relay's own data, built here and nowhere else (as
 * BullMQ's `queue-keys.ts` builds its own). Each begins with the REDIS_PREFIX and a colon, so on
 * a Redis Cluster, whose prefix carries a hash tag (`{gtr}`, see keyPrefixFor), every key hashes
 * to the prefix's slot: scripts, MULTI and pipelines never span slots. BullMQ's keys are BullMQ's.
 * The names are stored data: renaming one loses what older relays wrote.
 */

/** The keys of the job records (see JobRepository), under a REDIS_PREFIX. */
export function jobKeys(prefix: string) {
  const index = (name: string) => `${prefix}:jobs:${name}`;
  return {
    /** Hash: one job record, every field JSON-encoded (see jobs/record.ts). */
    job: (id: string) => `${prefix}:job:${id}`,
    /** Counter: the creation sequence that orders every job index. */
    seq: index('seq'),
    /** Sorted set of every job, scored by its creation sequence (as the other indexes). */
    all: index('all'),
    state: (state: string) => index(`state:${state}`),
    kind: (kind: string) => index(`kind:${kind}`),
    /** A job's owner ('' for none: never written). */
    owner: (owner: string) => index(`owner:${owner}`),
    /** `word \0 inverted seq \0 id` for every searchable word of every job (scores all 0). */
    search: index('search'),
    /** Jobs outside any batch in a final state, scored by when they got there (epoch ms). */
    finished: index('finished'),
    /** What a script names for a job without an import claim: never written. */
    noClaim: index('no-claim'),
    /** At most one unrecorded Gcore create per identity (see CreateLocks); `hash` is its SHA-256. */
    createLock: (hash: string) => index(`create-lock:${hash}`),
    /** Channel: the id of every job that changed. */
    events: `${prefix}:job-events`,
    /** Sorted set of callback outbox entries, by when they were written (epoch ms). */
    callbacksDue: `${prefix}:callbacks:due`,
    /** Hash: outbox entry → the job as it was then (JSON of its field/value pairs). */
    callbacksJobs: `${prefix}:callbacks:jobs`,
    /** Hash: Gcore video id → the id of the job that made it (Gcore's webhooks name only the video). */
    videos: `${prefix}:videos`,
    /** Set while Gcore's webhooks arrive (JobRepository.noteWebhook). */
    webhooksSeen: `${prefix}:webhooks:seen`,
    /** Per-second counters of the workers (see StatsCounters). */
    stats: (name: string, second: number) => `${prefix}:stats:${name}:${second}`,
  };
}

/** The keys of one batch, under a REDIS_PREFIX. */
export function batchKeys(prefix: string, id: string) {
  return {
    /** Hash: name, owner, created_at, total, `n:<state>` counts, bytes, bytes_ready, last_at, finished_at. */
    hash: `${prefix}:batch:${id}`,
    /** Sorted set of its job ids, scored by the jobs' creation sequence. */
    jobs: `${prefix}:batch:${id}:jobs`,
  };
}

/** The fleet-wide batch indexes. */
export function batchIndexes(prefix: string) {
  return {
    seq: `${prefix}:batches:seq`,
    /** Every batch, scored by its creation sequence (newest first in lists). */
    all: `${prefix}:batches:all`,
    owner: (owner: string) => `${prefix}:batches:owner:${owner}`,
    /** Batches with nothing left to do, scored by when that became so (the retention sweep reads it). */
    finished: `${prefix}:batches:finished`,
  };
}

/** The keys of one upload's locks and of the fleet's maintenance leases, under a REDIS_PREFIX. */
export const lockKeys = {
  /** Held by whatever reads or writes an upload's file (TUS requests, expiry, the reconciler). */
  upload: (prefix: string, id: string) => `${prefix}:lock:upload:${id}`,
  /** Held for the milliseconds of a read-modify-write of `<id>.relay.json`. */
  manifest: (prefix: string, id: string) => `${prefix}:lock:manifest:${id}`,
  /** One maintenance task (`reconcile`, `expiry`) for the whole fleet. */
  task: (prefix: string, name: string) => `${prefix}:lease:${name}`,
  /** Set for a while after a task's pass, so the other relays' timers skip theirs. */
  taskDone: (prefix: string, name: string) => `${prefix}:lease:${name}:done`,
  /** Channel: a released upload lock's token (the relays waiting for it try again). */
  releases: (prefix: string) => `${prefix}:lock:release`,
};

/** The keys of the relay's side of streaming and of cancellation, under the queue prefix. */
export const feedKeys = {
  /**
   * An upload's received offset (a key), announced on a channel of the same name (keys and
   * channels are separate namespaces; pub/sub reaches every node of a Redis Cluster).
   */
  received: (prefix: string, id: string) => `${prefix}:received:${id}`,
  /** Set while a streamed upload's forward is parked (delayed, its worker slot free). */
  parked: (prefix: string, id: string) => `${prefix}:parked:${id}`,
  /** Channel on which the relay tells workers to abort a job's transfer now. */
  cancel: (prefix: string) => `${prefix}:cancel`,
};

/** The keys of the relay's own bookkeeping, under a REDIS_PREFIX. */
export function relayKeys(prefix: string) {
  return {
    /** The shared pace of Gcore API requests (see ApiPacer). */
    gcorePace: `${prefix}:gcore-pace`,
    /** A throw-away key of one readiness probe. */
    readyz: (nonce: string) => `${prefix}:readyz:${nonce}`,
    /** A throw-away key of `relay doctor`'s write check. */
    doctor: (nonce: string) => `${prefix}:doctor:${nonce}`,
    /** The key prefix of the auth-failure throttle's counters (rate-limiter-flexible adds `:<address>`). */
    authFailures: `${prefix}:auth-failures`,
    /** Hash: open upload id → its quota entry (see UploadQuota). */
    quotaUploads: `${prefix}:quota:uploads`,
    /** Hash: owner → how many open uploads its quota entries count. */
    quotaCount: `${prefix}:quota:count`,
    /** Hash: owner → the bytes its quota entries count. */
    quotaBytes: `${prefix}:quota:bytes`,
    /** The job that imports an identity (see ImportClaims); `hash` is the identity's SHA-256. */
    importClaim: (hash: string) => `${prefix}:imports:url:${hash}`,
  };
}

/** Whether `key` is one of this prefix's keys (a key read from stored data is checked before a script touches it). */
export const isKeyOf = (prefix: string, key: string): boolean => key.startsWith(`${prefix}:`);
