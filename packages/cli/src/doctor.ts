// `pnpm relay doctor`: loaded only by that command (a dynamic import), since it pulls in the relay's
// configuration, Redis client and Gcore client. One check per file in doctor/.

import { checkConfig } from './doctor/config.js';
import { checkDisk } from './doctor/disk.js';
import { checkGcore } from './doctor/gcore.js';
import { checkRedis } from './doctor/redis.js';
import { type DoctorOptions, Reporter } from './doctor/report.js';
import type { CliIo } from './io.js';

export type { CheckResult, CheckStatus, DoctorOptions } from './doctor/report.js';

/** Runs every check, printing one line each as it finishes; resolves with the exit code. */
export async function runDoctor(io: CliIo, options: DoctorOptions): Promise<number> {
  const reporter = new Reporter(io);
  const { report } = reporter;
  const checked = checkConfig(io, reporter);
  if (!checked) return reporter.finish();
  const { config, redisTarget } = checked;
  await checkRedis(config, redisTarget, report);
  await checkDisk(config, io, options, report);
  await checkGcore(config, io, options, io.now ?? Date.now, report);
  return reporter.finish();
}
