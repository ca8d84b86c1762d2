import type { JobRepository, JobState, RelayQueues, StatsCounters } from '@gtr/core';
import { type OpenUploadsReport, openUploadsReport, type UploadQuota } from '../ingest/quota.js';

/** The Gcore API the workers talk to, as the dashboard shows it. */
export interface UpstreamInfo {
  url: string;
  /** The built-in Gcore emulator rather than Gcore itself. */
  emulator: boolean;
}

export interface DashboardSummary {
  counts: Record<JobState, number>;
  total: number;
  stats: {
    /** Bytes per second sent to Gcore, over the last 10 s, all workers together. */
    forward_bytes_per_sec: number;
    /** 429 answers from Gcore in the last 60 s. */
    rate_limited_last_minute: number;
  };
  /** The BullMQ `forward` queue: waiting (prioritized included), active, delayed, and their sum. */
  queue: { waiting: number; active: number; delayed: number; depth: number };
  upstream: UpstreamInfo | null;
  /** The configured tokens' names (never the tokens): the owners jobs can have. */
  owners: string[];
  /** Each owner's unfinished uploads and their declared bytes, against TOOL_MAX_OPEN_* and DISK_RESERVE_BYTES. */
  open_uploads: OpenUploadsReport;
  generated_at: string;
}

export interface SummaryDeps {
  jobs: JobRepository;
  quota: UploadQuota;
  stats: StatsCounters;
  queues: Pick<RelayQueues, 'forward' | 'import'>;
  upstream: UpstreamInfo | undefined;
  owners: readonly string[];
  now: () => number;
}

/** Everything the dashboard's header shows, in one round of Redis reads. */
export async function dashboardSummary(deps: SummaryDeps): Promise<DashboardSummary> {
  // Uploads and relay-pulled imports wait on `forward`, imports Gcore pulls on `import`.
  const [counts, stats, openUploads, ...queues] = await Promise.all([
    deps.jobs.countByState(),
    deps.stats.snapshot(),
    openUploadsReport(deps.quota, deps.owners, { others: true }),
    deps.queues.forward.getJobCounts('waiting', 'prioritized', 'active', 'delayed'),
    deps.queues.import.getJobCounts('waiting', 'prioritized', 'active', 'delayed'),
  ]);
  const sum = (name: string) => queues.reduce((total, q) => total + (q[name] ?? 0), 0);
  const waiting = sum('waiting') + sum('prioritized');
  const active = sum('active');
  const delayed = sum('delayed');
  return {
    counts,
    total: Object.values(counts).reduce((sum, n) => sum + n, 0),
    stats: {
      forward_bytes_per_sec: stats.forwardBytesPerSec,
      rate_limited_last_minute: stats.rateLimitedLastMinute,
    },
    queue: { waiting, active, delayed, depth: waiting + active + delayed },
    upstream: deps.upstream ? { url: displayUrl(deps.upstream.url), emulator: deps.upstream.emulator } : null,
    owners: [...deps.owners],
    open_uploads: openUploads,
    generated_at: new Date(deps.now()).toISOString(),
  };
}

/** The URL without credentials, query or fragment: only where it points is shown. */
function displayUrl(raw: string): string {
  try {
    const url = new URL(raw);
    return `${url.origin}${url.pathname === '/' ? '' : url.pathname}`;
  } catch {
    return 'an invalid URL';
  }
}
