import { feedKeys } from '../keys.js';
import type { PublicJob } from './types.js';

/** BullMQ queue names and their job data, defined once for the relay and the workers. */
export const QUEUE_PREFIX = 'gtr';

export const QUEUES = {
  /** Creates the Gcore video and moves the bytes (uploads) or asks Gcore to pull (imports). */
  forward: 'forward',
  /**
   * Imports that Gcore pulls itself (`via: "gcore"`): API calls only, no bytes through the relay,
   * so many run at once and their create calls are batched.
   */
  import: 'import',
  /** Follows Gcore's processing with backing-off polls; light, so waiting never holds a forward slot. */
  track: 'track',
  /** Delivers callbacks to internal tools. */
  notify: 'notify',
} as const;

/** Every queue's job carries only the relay job id; the job record holds the rest. */
export interface ForwardJobData {
  id: string;
}
/** `delete-video` removes a canceled job's video at Gcore (cancel with `delete_video=true`). */
export type ForwardJobName = 'upload' | 'import' | 'delete-video';

/** Pub/sub channel on which the relay tells workers to abort a job's transfer now. */
export const cancelChannel = (prefix = QUEUE_PREFIX): string => feedKeys.cancel(prefix);

export interface TrackJobData {
  id: string;
  /** Polls so far, for the 1 s → 30 s backoff. */
  polls: number;
  /** What the last poll saw of Gcore's processing, and since when unchanged (stall detection). */
  seen?: { key: string; since: number };
}

export interface NotifyJobData {
  id: string;
  url: string;
  /** The job as it was when it reached its final state: what the tool receives. */
  job: PublicJob;
}
