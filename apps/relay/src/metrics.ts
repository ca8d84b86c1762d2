import { JOB_STATES, type JobRepository } from '@gtr/core';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { UploadQuota } from './ingest/quota.js';

export interface RelayMetrics {
  registry: Registry;
  /** By owner: token names come from config, so the label's values are few. */
  uploadsCreated: Counter<'owner'>;
  uploadsFinished: Counter<'owner'>;
  uploadsRefused: Counter<'code'>;
  bytesReceived: Counter;
  /** Each owner's unfinished uploads (partials included) and their declared bytes, as its quota counts them. */
  openUploads: Gauge<'owner'>;
  openUploadBytes: Gauge<'owner'>;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
}

/** One registry per relay (no global state), so tests can run several side by side. */
export function createRelayMetrics(
  jobs: JobRepository,
  quota: Pick<UploadQuota, 'open'>,
  registry = new Registry(),
): RelayMetrics {
  const perOwner = (gauge: Gauge<'owner'>, value: (open: { uploads: number; bytes: number }) => number) =>
    quota.open().then(
      (open) => {
        // An owner whose last upload finished leaves the series, not stays at its last value.
        gauge.reset();
        for (const entry of open) gauge.set({ owner: entry.owner }, value(entry));
      },
      () => {},
    );
  const jobCount = new Gauge({
    name: 'relay_jobs',
    help: 'Jobs by state',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const counts = await jobs.countByState().catch(() => null);
      if (!counts) return;
      for (const state of JOB_STATES) this.set({ state }, counts[state]);
    },
  });
  void jobCount;
  return {
    registry,
    uploadsCreated: new Counter({
      name: 'relay_uploads_created_total',
      help: 'TUS uploads created, by owner (token name)',
      labelNames: ['owner'],
      registers: [registry],
    }),
    uploadsFinished: new Counter({
      name: 'relay_uploads_finished_total',
      help: 'TUS uploads whose last byte arrived, by owner (token name)',
      labelNames: ['owner'],
      registers: [registry],
    }),
    uploadsRefused: new Counter({
      name: 'relay_uploads_refused_total',
      help: 'TUS upload creations refused, by error code',
      labelNames: ['code'],
      registers: [registry],
    }),
    bytesReceived: new Counter({
      name: 'relay_bytes_received_total',
      help: 'Upload bytes written to disk',
      registers: [registry],
    }),
    openUploads: new Gauge({
      name: 'relay_open_uploads',
      help: 'Unfinished uploads (partial concatenation uploads included), by owner (token name), as TOOL_MAX_OPEN_UPLOADS counts them',
      labelNames: ['owner'],
      registers: [registry],
      async collect() {
        await perOwner(this, (open) => open.uploads);
      },
    }),
    openUploadBytes: new Gauge({
      name: 'relay_open_upload_bytes',
      help: 'Declared bytes of unfinished uploads, by owner (token name), as TOOL_MAX_OPEN_BYTES counts them',
      labelNames: ['owner'],
      registers: [registry],
      async collect() {
        await perOwner(this, (open) => open.bytes);
      },
    }),
    httpDuration: new Histogram({
      name: 'relay_http_request_duration_seconds',
      help: 'HTTP request durations',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
  };
}
