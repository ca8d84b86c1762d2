import type { PublicBatch } from '@gtr/contract';
import type { RelayClient } from '../api.js';
import { connect, parseCommandArgs } from '../args.js';
import { batchJobs, followBatch } from '../follow-batch.js';
import { formatAge, formatBytes, renderTable, truncate } from '../format.js';
import { type CliIo, EXIT, UsageError } from '../io.js';
import { batchText, createProgress } from '../progress.js';
import { type Command, printJson, println } from './command.js';

const options = {
  format: { type: 'string' },
  json: { type: 'boolean' },
  'no-wait': { type: 'boolean' },
} as const;

const USAGE = `Usage: pnpm relay batch ID [--no-wait] [--json]
       pnpm relay batch export ID [--format csv|json] > map.csv
       pnpm relay batch retry ID
       pnpm relay batch cancel ID
       pnpm relay batch list [--json]
       pnpm relay batch new NAME

A batch is one migration: the jobs of one \`pnpm relay import --file/--s3\` (or of uploads that
joined it).
  ID              follow the batch until its last job is final: a progress bar with rate and
                  ETA, then the failed jobs with Gcore's messages (--no-wait: show it once)
  export ID       the result, one row per job: index, origin URL (or idempotency key), job id,
                  name, state, Gcore video id, slug, HLS URL, error — for updating a CMS
  retry ID        retry the batch's failed jobs (and only those)
  cancel ID       cancel the jobs of the batch that have not finished
  list            the newest batches
  new NAME        an empty batch, for uploads to join (pnpm relay upload FILE... --batch ID)

Exit code: 0 when the batch ends with every job ready (or the action was done), 1 otherwise.`;

/** `batch …`: follow, export, retry or cancel one migration. */
export const batchCommand: Command = {
  name: 'batch',
  summary: 'follow, export, retry or cancel a batch (migration)',
  usage: USAGE,

  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('batch', argv, options);
    const [first, second, ...rest] = positionals;
    if (first === undefined) throw new UsageError('which batch? give its ID (or list)', 'batch');
    const actions = ['export', 'retry', 'cancel'];
    if (first === 'new') {
      if (second === undefined || rest.length > 0) throw new UsageError('pnpm relay batch new NAME', 'batch');
      const client = await connect(values, io);
      const batch = await client.createBatch(second);
      if (values.json) printJson(io, batch);
      else
        println(
          io,
          `batch ${batch.id} "${batch.name}": upload into it with pnpm relay upload FILE... --batch ${batch.id}`,
        );
      return EXIT.ok;
    }
    if (first === 'list') {
      if (second !== undefined) throw new UsageError(`unexpected argument "${second}"`, 'batch');
      const client = await connect(values, io);
      const page = await client.listBatches({ limit: 50 });
      if (values.json) printJson(io, page);
      else printBatchTable(io, page.items);
      return EXIT.ok;
    }
    if (actions.includes(first)) {
      if (second === undefined) throw new UsageError(`which batch? pnpm relay batch ${first} ID`, 'batch');
      if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`, 'batch');
      const client = await connect(values, io);
      if (first === 'export') {
        const format = values.format ?? 'csv';
        if (format !== 'csv' && format !== 'json') {
          throw new UsageError(`--format must be csv or json, not "${format}"`, 'batch');
        }
        await client.exportBatch(second, format, io.stdout);
        return EXIT.ok;
      }
      if (first === 'retry') {
        const { batch, retried, refused } = await client.retryBatch(second);
        println(io, `batch ${batch.id}: ${retried} failed job${retried === 1 ? '' : 's'} retried`);
        if (refused.length > 0) println(io, `${refused.length} could not be retried (upload them again)`);
        return EXIT.ok;
      }
      const { batch, canceled } = await client.cancelBatch(second);
      println(io, `batch ${batch.id}: ${canceled} job${canceled === 1 ? '' : 's'} canceled`);
      return EXIT.ok;
    }
    if (second !== undefined) throw new UsageError(`unexpected argument "${second}"`, 'batch');
    if (values.format !== undefined) throw new UsageError('--format goes with export', 'batch');
    const client = await connect(values, io);
    if (values['no-wait']) {
      const batch = await client.getBatch(first);
      if (values.json) printJson(io, batch);
      else printBatch(io, batch);
      return EXIT.ok;
    }
    return followAndReport(client, first, io);
  },
};

/**
 * Follows the batch with a progress bar until it ends (or Ctrl-C), then names its failed jobs.
 * Resolves with the exit code: 0 when every job is ready.
 */
export async function followAndReport(client: RelayClient, id: string, io: CliIo): Promise<number> {
  const progress = createProgress(io.stdout, io.now);
  const bar = progress.batch();
  let result: Awaited<ReturnType<typeof followBatch>>;
  try {
    result = await followBatch({
      client,
      id,
      signal: io.signal,
      ...(io.pollIntervalMs !== undefined ? { pollIntervalMs: io.pollIntervalMs } : {}),
      ...(io.now ? { now: io.now } : {}),
      onUpdate: (batch) => bar.update(batch),
      onOutage: (error) => progress.log(`the relay stopped answering (${error.message}); still trying`),
    });
  } finally {
    progress.stop();
  }
  const { batch, interrupted } = result;
  if (interrupted) {
    io.stderr.write(`stopped waiting; the batch goes on at the relay (pnpm relay batch ${batch.id})\n`);
    return EXIT.interrupted;
  }
  let shown = 0;
  for await (const job of batchJobs(client, batch.id, 'failed')) {
    if (shown++ >= 50) continue;
    const reason = job.error ? `${job.error.message} (${job.error.code})` : 'failed';
    println(io, `${job.origin_url ?? job.filename ?? job.name}: failed: ${reason} (job ${job.id})`);
  }
  if (shown > 50) println(io, `… and ${shown - 50} more failed (pnpm relay batch export ${batch.id})`);
  const { ready, failed, canceled } = batch.counts;
  println(io, `jobs: ${ready} ready, ${failed} failed${canceled ? `, ${canceled} canceled` : ''}`);
  println(io, `batch ${batch.id} finished; its result: pnpm relay batch export ${batch.id} > map.csv`);
  return batch.counts.ready === batch.total ? EXIT.ok : EXIT.failed;
}

function printBatch(io: CliIo, b: PublicBatch): void {
  const rows: Array<[string, string | null]> = [
    ['id', b.id],
    ['name', b.name],
    ['owner', b.owner],
    ['progress', batchText(b)],
    [
      'states',
      Object.entries(b.counts)
        .filter(([, n]) => n > 0)
        .map(([s, n]) => `${s} ${n}`)
        .join(', '),
    ],
    ['bytes', `${formatBytes(b.bytes.ready)} of ${formatBytes(b.bytes.total)} ready`],
    ['created', b.created_at],
    ['activity', b.last_activity_at],
    ['finished', b.finished_at],
  ];
  for (const [label, value] of rows) if (value) println(io, `${`${label}:`.padEnd(11)}${value}`);
}

function printBatchTable(io: CliIo, batches: readonly PublicBatch[]): void {
  if (batches.length === 0) {
    println(io, 'no batches');
    return;
  }
  const now = (io.now ?? Date.now)();
  println(
    io,
    renderTable(
      ['ID', 'NAME', 'PROGRESS', 'AGE'],
      batches.map((b) => [b.id, truncate(b.name, 40), batchText(b), formatAge(b.created_at, now)]),
    ),
  );
}
