import type { PublicJob } from '@gtr/contract';

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB'];

/** Decimal units, as disk and network tools show them: `1.5 MB`. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** `45s`, `3m 05s`, `2h 10m`, `3d 4h`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** How long ago, coarsely: `12s`, `5m`, `3h`, `2d`. */
export function formatAge(iso: string, now: number): string {
  const s = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

export function percent(part: number, whole: number | null): string {
  if (!whole) return '';
  return `${Math.min(100, Math.floor((part / whole) * 100))}%`;
}

/** What a job is doing, in a few words: the PROGRESS column and the lines while waiting. */
export function describeProgress(job: PublicJob): string {
  switch (job.state) {
    case 'receiving':
      return job.size
        ? `received ${percent(job.bytes_received, job.size)}`
        : `received ${formatBytes(job.bytes_received)}`;
    case 'queued':
    case 'creating':
      return job.attempts > 1 ? `attempt ${job.attempts}` : '';
    case 'uploading':
      return job.size
        ? `forwarded ${percent(job.bytes_forwarded, job.size)}`
        : `forwarded ${formatBytes(job.bytes_forwarded)}`;
    case 'processing':
      return job.video ? `video ${job.video.id}: ${job.video.status}` : '';
    case 'ready':
      return job.video ? `video ${job.video.id}` : '';
    case 'failed':
      return job.error ? job.error.code : '';
    case 'canceled':
      return '';
  }
}

/** The last line for a job that reached a final state. */
export function describeOutcome(job: PublicJob): string {
  if (job.state === 'ready') {
    const video = job.video ? `video ${job.video.id}` : 'video';
    return `ready: ${video}${job.video?.hls_url ? ` ${job.video.hls_url}` : ''}`;
  }
  if (job.state === 'failed') {
    return `failed: ${job.error ? `${job.error.message} (${job.error.code})` : 'no reason given'}`;
  }
  return job.state;
}

export function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
