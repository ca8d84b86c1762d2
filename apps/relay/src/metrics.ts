import { JOB_STATES, type JobRepository } from '@gtr/core';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface RelayMetrics {
  registry: Registry;
  /** By owner: token names come from config, so the label's values are few. */
  uploadsCreated: Counter<'owner'>;
  uploadsFinished: Counter<'owner'>;
  uploadsRefused: Counter<'code'>;
  bytesReceived: Counter;
  openUploads: Gauge;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
}

/** One registry per relay (no global state), so tests can run several side by side. */
export function createRelayMetrics(jobs: JobRepository, registry = new Registry()): RelayMetrics {
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
      help: 'Uploads created and not yet finished',
      registers: [registry],
      async collect() {
        const counts = await jobs.countByState().catch(() => null);
        if (counts) this.set(counts.receiving);
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
