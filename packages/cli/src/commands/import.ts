import path from 'node:path';
import type { ImportItem } from '../api.js';
import { connect, intOption, parseCommandArgs } from '../args.js';
import { EXIT, UsageError } from '../io.js';
import { parseS3Url } from '../s3.js';
import { followAndReport } from './batch.js';
import { type Command, println } from './command.js';
import { readSources } from './import/sources.js';
import { submit } from './import/submit.js';
import { waitForImports } from './import/wait.js';

export { BATCH_LIMIT, BATCH_SIZE } from './import/submit.js';

const options = {
  file: { type: 'string' },
  s3: { type: 'string' },
  name: { type: 'string' },
  description: { type: 'string' },
  'directory-id': { type: 'string' },
  via: { type: 'string' },
  wait: { type: 'boolean' },
  'no-wait': { type: 'boolean' },
  'batch-name': { type: 'string' },
  expires: { type: 'string' },
  endpoint: { type: 'string' },
  region: { type: 'string' },
} as const;

const USAGE = `Usage: pnpm relay import URL... [--name N] [--description D] [--wait]
       pnpm relay import --file LIST [--batch-name N] [--no-wait]
       pnpm relay import --s3 s3://BUCKET/PREFIX [--expires SECONDS] [--endpoint URL] [--no-wait]

Asks Gcore to copy videos from URLs (copy-from-URL jobs). Sending a URL again returns its job
instead of making a second video. A list (--file, --s3) is one batch: its id is printed, then a
progress bar with the rate and ETA until the batch ends, then the failed items with Gcore's
messages ("pnpm relay batch ID" follows it again later; "pnpm relay batch export ID" writes the
mapping origin URL -> Gcore video).
  --file LIST         one URL per line, or CSV url,name[,description]; # comments and blank
                      lines are skipped ("-" reads standard input)
  --s3 s3://B/P       every video object under the prefix, as presigned GET URLs (credentials,
                      region and endpoint from the standard AWS_* variables); a re-run finds
                      the jobs of objects imported before
  --expires SECONDS   lifetime of the presigned URLs (default 3600)
  --endpoint URL      S3-compatible storage (default AWS_ENDPOINT_URL_S3); path-style addressing
  --region R          S3 region (default AWS_REGION, else us-east-1)
  --name N            video title (one URL only)
  --description D     video description (URL arguments only)
  --directory-id N    Gcore directory for the videos
  --via gcore|relay   who fetches the file: Gcore pulls it, or the relay downloads and uploads it
  --batch-name N      names the batch (default: the list file's name, or s3://BUCKET/PREFIX)
  --wait              URL arguments: show jobs done/failed until all are final
  --no-wait           lists: stop once the batch is sent (it goes on at the relay)

Exit code: 0 when every URL was accepted and (when waiting) every video is ready, 1 otherwise.`;

export const importCommand: Command = {
  name: 'import',
  summary: 'import videos from URLs, a list file or an S3 prefix',
  usage: USAGE,

  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('import', argv, options);
    const modes = [positionals.length > 0, values.file !== undefined, values.s3 !== undefined].filter(
      Boolean,
    );
    if (modes.length === 0)
      throw new UsageError('give URLs, --file LIST or --s3 s3://bucket/prefix', 'import');
    if (modes.length > 1) throw new UsageError('use one of: URLs, --file or --s3', 'import');
    if (values.name !== undefined && (positionals.length !== 1 || values.file || values.s3)) {
      throw new UsageError(
        '--name names one video: use it with exactly one URL (lists carry their own names)',
        'import',
      );
    }
    if (values.description !== undefined && positionals.length === 0) {
      throw new UsageError('--description goes with URL arguments (lists carry their own)', 'import');
    }
    if ((values.expires || values.endpoint || values.region) && values.s3 === undefined) {
      throw new UsageError('--expires, --endpoint and --region go with --s3', 'import');
    }
    if (values.wait && values['no-wait']) throw new UsageError('--wait or --no-wait, not both', 'import');
    if (values['batch-name'] !== undefined && positionals.length > 0) {
      throw new UsageError('--batch-name goes with --file or --s3', 'import');
    }
    if (values.via !== undefined && values.via !== 'gcore' && values.via !== 'relay') {
      throw new UsageError(`--via must be gcore or relay, not "${values.via}"`, 'import');
    }
    const directoryId = intOption('import', 'directory-id', values['directory-id'], { min: 0 });
    const expires = intOption('import', 'expires', values.expires, { min: 1, max: 604_800 }) ?? 3_600;
    const s3 = values.s3 !== undefined ? parseS3Url(values.s3) : null;
    if (values.s3 !== undefined && !s3) {
      throw new UsageError(`--s3 wants s3://bucket/prefix, not "${values.s3}"`, 'import');
    }
    const common: Partial<ImportItem> = {
      ...(directoryId !== undefined ? { directory_id: directoryId } : {}),
      ...(values.via !== undefined ? { via: values.via as 'gcore' | 'relay' } : {}),
    };

    const { sources, problems: localProblems } = await readSources(io, {
      file: values.file,
      s3,
      urls: positionals,
      name: values.name,
      description: values.description,
      expires,
      endpoint: values.endpoint,
      region: values.region,
      common,
    });

    if (sources.length === 0 && localProblems.length === 0) {
      println(io, 'nothing to import');
      return EXIT.ok;
    }
    const client = await connect(values, io);
    const batchName =
      values['batch-name'] ??
      (s3
        ? `s3://${s3.bucket}/${s3.prefix}`
        : values.file && values.file !== '-'
          ? path.basename(values.file)
          : undefined);
    const result = await submit(client, sources, io, batchName);
    result.rejected.unshift(...localProblems);
    const unknown = result.accepted.length > 0 ? `, ${result.accepted.length} new or existing` : '';
    println(
      io,
      `imports: ${result.created.length} created, ${result.existing.length} existing${unknown}, ${result.rejected.length} rejected`,
    );
    for (const r of result.rejected) println(io, `${r.where}: ${r.url ? `${r.url}: ` : ''}${r.message}`);
    const jobs = [...result.created, ...result.existing, ...result.accepted];
    const { batch } = result;
    if (batch)
      println(io, `batch ${batch.id} "${batch.name}": ${batch.total} job${batch.total === 1 ? '' : 's'}`);

    const list = positionals.length === 0;
    const wait = list ? !values['no-wait'] : Boolean(values.wait);
    if (!wait) {
      if (batch) println(io, `follow it: pnpm relay batch ${batch.id}`);
      return result.rejected.length > 0 ? EXIT.failed : EXIT.ok;
    }
    if (jobs.length === 0) return EXIT.failed;
    // One look at the batch per interval, whatever its size, when it holds every job of the list.
    if (batch && jobs.every((j) => j.batch === batch.id)) {
      const code = await followAndReport(client, batch.id, io);
      return code === EXIT.ok && result.rejected.length > 0 ? EXIT.failed : code;
    }
    const outcome = await waitForImports(client, jobs, result.origin, io);
    if (outcome === 'interrupted') return EXIT.interrupted;
    return outcome === 'ready' && result.rejected.length === 0 ? EXIT.ok : EXIT.failed;
  },
};
