import { intOption, parseCommandArgs, sizeOption } from '../args.js';
import type { Command } from './command.js';

const options = {
  'min-free': { type: 'string' },
  live: { type: 'boolean' },
  'video-id': { type: 'string' },
} as const;

/** 1 GiB: below this much free space under DATA_DIR the disk check fails. */
export const DEFAULT_MIN_FREE = 1024 ** 3;

/**
 * `doctor`: checks the relay's configuration, Redis, disk and Gcore account, one line each. The
 * checks need @gtr/core and @gtr/gcore, loaded only here so the other commands stay light.
 */
export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'check the configuration, Redis, disk, Gcore key and clock before running the relay',
  usage: `Usage: pnpm relay doctor [--min-free SIZE] [--video-id ID] [--live]

Checks, for an operator, what the relay and its workers need, with the same environment (and
./.env) they read: the configuration; Redis (reachable, a writable primary under REDIS_PREFIX,
appendonly yes, maxmemory-policy noeviction); free space under DATA_DIR; the Gcore API host (TLS)
and key (one read call: list one video); the upload servers Gcore hands out (asked for an existing
video: --video-id, else the newest one in the account; skipped when there is none); the clock
against Gcore's Date header. One line per check: ✓ passed, ✗ failed, ! warning, – skipped.
Nothing is created on Gcore unless --live is given.

Options:
  --min-free SIZE  the disk check fails with less free space under DATA_DIR (default 1GiB;
                   52428800, 500MB or 2GiB)
  --video-id ID    the existing Gcore video to ask for upload servers
  --live           also upload 1 MB through the relay's forwarder (tus-js-client) to the
                   configured Gcore account: creates a video "relay doctor <time>", uploads,
                   waits for Gcore to report a status, then deletes the video

Exit codes: 0 every check passed (warnings allowed), 1 a check failed, 2 a wrong command line.`,

  async run(argv, io) {
    const { values } = parseCommandArgs('doctor', argv, options);
    const minFree = sizeOption('doctor', 'min-free', values['min-free']) ?? DEFAULT_MIN_FREE;
    const videoId = intOption('doctor', 'video-id', values['video-id'], { min: 1 });
    const { runDoctor } = await import('../doctor.js');
    return runDoctor(io, { minFree, live: values.live === true, ...(videoId ? { videoId } : {}) });
  },
};
