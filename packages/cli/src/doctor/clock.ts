import type { DoctorOptions, Report } from './report.js';

/** `clock`: this machine's clock against the Date header of Gcore's first answer. */
export function checkClock(
  dated: { date: string; sentAt: number; receivedAt: number },
  options: DoctorOptions,
  report: Report,
): void {
  const theirs = Date.parse(dated.date);
  if (Number.isNaN(theirs)) {
    report('clock', 'warn', `Gcore's Date header "${dated.date}" could not be read`);
    return;
  }
  // The header has whole seconds: Gcore's clock is within [theirs, theirs + 1 s) when it answered.
  const ours = (dated.sentAt + dated.receivedAt) / 2;
  const skew = theirs + 500 - ours;
  const limit = options.maxClockSkewMs ?? 30_000;
  const seconds = Math.round(Math.abs(skew) / 1000);
  const direction = skew > 0 ? 'behind' : 'ahead of';
  if (Math.abs(skew) > limit) {
    report(
      'clock',
      'warn',
      `this machine's clock is ${seconds} s ${direction} Gcore's (Date header): more than ${limit / 1000} s; upload tokens and timestamps may be misjudged (run NTP)`,
    );
  } else {
    report('clock', 'ok', `within ${Math.max(1, seconds)} s of Gcore's (Date header)`);
  }
}
