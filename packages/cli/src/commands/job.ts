import type { PublicJob } from '@gtr/contract';
import { connect, parseCommandArgs } from '../args.js';
import { formatAge, formatBytes, percent } from '../format.js';
import { type CliIo, EXIT, UsageError } from '../io.js';
import { type Command, printJson, println } from './command.js';

const options = { json: { type: 'boolean' } } as const;

/** `job ID`: one job in full. */
export const jobCommand: Command = {
  name: 'job',
  summary: 'show one job',
  usage: `Usage: pnpm relay job ID [--json]

Shows one job: state, sizes, the Gcore video and any error.
  --json   print the job object as the API returns it`,

  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('job', argv, options);
    const id = singleId('job', positionals);
    const client = await connect(values, io);
    const job = await client.getJob(id);
    if (values.json) printJson(io, job);
    else printJob(io, job);
    return EXIT.ok;
  },
};

/** The one positional a job command takes. */
export function singleId(command: string, positionals: readonly string[]): string {
  if (positionals.length === 0) throw new UsageError('which job? give its ID', command);
  if (positionals.length > 1)
    throw new UsageError(`one job ID at a time (got ${positionals.length})`, command);
  return positionals[0]!;
}

export function printJob(io: CliIo, job: PublicJob): void {
  const now = (io.now ?? Date.now)();
  const rows: Array<[string, string | null]> = [
    ['id', job.id],
    ['kind', job.kind],
    ['state', job.state],
    ['name', job.name],
    ['filename', job.filename],
    ['size', job.size === null ? null : formatBytes(job.size)],
    [
      'received',
      job.kind === 'upload'
        ? `${formatBytes(job.bytes_received)} ${percent(job.bytes_received, job.size)}`
        : null,
    ],
    [
      'forwarded',
      job.kind === 'upload'
        ? `${formatBytes(job.bytes_forwarded)} ${percent(job.bytes_forwarded, job.size)}`
        : null,
    ],
    ['origin', job.origin_url],
    ['video', job.video ? `${job.video.id} (${job.video.status})` : null],
    ['hls', job.video?.hls_url ?? null],
    ['video error', job.video?.error ?? null],
    ['attempts', String(job.attempts)],
    [
      'error',
      job.error
        ? `${job.error.code}: ${job.error.message}${job.error.retryable ? ' (retryable)' : ''}`
        : null,
    ],
    ['created', `${job.created_at} (${formatAge(job.created_at, now)} ago)`],
    ['updated', job.updated_at],
    ['finished', job.finished_at],
  ];
  for (const [label, value] of rows) {
    if (value !== null && value.trim() !== '') println(io, `${`${label}:`.padEnd(13)}${value.trim()}`);
  }
}
