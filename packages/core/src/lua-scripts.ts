import { isFinalState, JOB_KINDS, JOB_STATES } from './jobs/types.js';
import { LuaScript } from './scripts.js';

/** Where this package's `.lua` files are, from `src/` and from `dist/` alike (see scripts.ts). */
export const CORE_LUA_DIR = new URL('../src/lua/', import.meta.url);

const script = <Result>(file: string, numberOfKeys: number) =>
  new LuaScript<Result>(
    `gtr_${file.replaceAll('-', '_')}`,
    new URL(`${file}.lua`, CORE_LUA_DIR),
    numberOfKeys,
  );

/** Search entries carry `MAX_SEQ - seq`, zero-padded to 12 digits, so that a word's range is newest first. */
export const MAX_SEQ = 999_999_999_999;

/**
 * What the job scripts know of jobs (their ARGV[1]; see lua/includes/job-helpers.lua): the states
 * and kinds in the order of their index KEYS, which states are final, and MAX_SEQ.
 */
export const JOB_SCHEMA = JSON.stringify({
  max_seq: MAX_SEQ,
  states: JOB_STATES,
  open: JOB_STATES.filter((state) => !isFinalState(state)),
  final: JOB_STATES.filter(isFinalState),
  kinds: JOB_KINDS,
});

/** A script's answer with the job hash as field/value pairs: `[1, pairs]` done, `[0, pairs]` refused, null: no job. */
export type JobAnswer = [number, string[]] | null;

export const JOB_CREATE = script<number>('job-create', 11);
export const JOB_UPDATE = script<JobAnswer>('job-update', 1);
export const JOB_TRANSITION = script<JobAnswer>('job-transition', 3 + JOB_STATES.length + 3);
export const JOB_REMOVE = script<number>('job-remove', 3 + JOB_STATES.length + JOB_KINDS.length + 6);
export const VIDEO_INDEX = script<number>('video-index', 3);
export const SEARCH_EXPAND = script<string[]>('search-expand', 1);
export const BATCH_CREATE = script<number>('batch-create', 5);
export const PACER_TAKE = script<number>('pacer-take', 1);
export const PACER_PUSH_BACK = script<number>('pacer-push-back', 1);
export const CREATE_LOCK_TAKE = script<number>('create-lock-take', 1);
export const COMPARE_AND_DELETE = script<number>('compare-and-delete', 1);
export const LEASE_ACQUIRE = script<[number, string]>('lease-acquire', 1);
export const LEASE_RENEW = script<number>('lease-renew', 1);

/** Every script of this package (the header test reads each). */
export const CORE_SCRIPTS: readonly LuaScript[] = [
  JOB_CREATE,
  JOB_UPDATE,
  JOB_TRANSITION,
  JOB_REMOVE,
  VIDEO_INDEX,
  SEARCH_EXPAND,
  BATCH_CREATE,
  PACER_TAKE,
  PACER_PUSH_BACK,
  CREATE_LOCK_TAKE,
  COMPARE_AND_DELETE,
  LEASE_ACQUIRE,
  LEASE_RENEW,
];
