import { Counter, Registry } from 'prom-client';

export interface WorkerMetrics {
  registry: Registry;
  forwardsStarted: Counter;
  forwardsFinished: Counter;
  forwardsParked: Counter;
  forwardsFailed: Counter<'code' | 'owner'>;
  bytesSent: Counter;
  retries: Counter<'code'>;
  rateLimited: Counter<'source'>;
  gcoreRequests: Counter<'route' | 'status'>;
  callbacks: Counter<'outcome'>;
}

export function createWorkerMetrics(registry = new Registry()): WorkerMetrics {
  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers: [registry] });
  return {
    registry,
    forwardsStarted: counter('relay_forwards_started_total', 'Forward attempts started'),
    forwardsFinished: counter('relay_forwards_finished_total', 'Files Gcore fully received'),
    forwardsParked: counter(
      'relay_forwards_parked_total',
      'Streamed forwards that gave their slot back while the tool sent nothing',
    ),
    forwardsFailed: counter('relay_forwards_failed_total', 'Jobs failed for good, by error code and owner', [
      'code',
      'owner',
    ]),
    bytesSent: counter(
      'relay_forward_bytes_sent_total',
      'Bytes sent to Gcore TUS servers (re-sends included)',
    ),
    retries: counter('relay_forward_retries_total', 'Forward attempts that will be retried, by error code', [
      'code',
    ]),
    rateLimited: counter('relay_gcore_rate_limited_total', '429 answers from Gcore', ['source']),
    gcoreRequests: counter('relay_gcore_requests_total', 'Gcore API requests by route and status', [
      'route',
      'status',
    ]),
    callbacks: counter('relay_callbacks_total', 'Callback deliveries by outcome', ['outcome']),
  };
}
