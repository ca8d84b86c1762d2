import fs from 'node:fs/promises';
import path from 'node:path';
import type { PublicBatch, PublicJob } from '@gtr/contract';
import { sleep } from '@gtr/core';
import { type ImportItem, type RelayClient, RelayError } from '../api.js';
import { connect, intOption, parseCommandArgs } from '../args.js';
import { followJobs } from '../follow.js';
import { CliError, type CliIo, EXIT, UsageError } from '../io.js';
import { parseList } from '../list-file.js';
import { createProgress } from '../progress.js';
import { createS3Client, listVideos, parseS3Url, presignGet, type S3Location, titleOf } from '../s3.js';
import { followAndReport } from './batch.js';
import { type Command, println } from './command.js';

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

/** The batch endpoint takes at most this many items per request. */
export const BATCH_LIMIT = 10_000;

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

/** One import with where it came from, for messages: `line 4`, `argument 2`, `s3://b/k`. */
interface Source {
  where: string;
  /** The URL as messages show it; empty for presigned URLs (the S3 key in `where` says it all). */
  shown: string;
  item: ImportItem;
}

type Rejection = { where: string; url: string; message: string };

interface Submission {
  created: PublicJob[];
  existing: PublicJob[];
  /** Accepted by a relay that does not say whether it created them (one older than `created`). */
  accepted: PublicJob[];
  rejected: Rejection[];
  /** Which input each job came from, as messages show it. */
  origin: Map<string, string>;
  /** The batch the list's jobs went into; null for one URL, or from a relay without batches. */
  batch: PublicBatch | null;
}

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

interface SourceOptions {
  file: string | undefined;
  s3: S3Location | null;
  urls: readonly string[];
  name: string | undefined;
  description: string | undefined;
  expires: number;
  endpoint: string | undefined;
  region: string | undefined;
  /** Fields every item gets. */
  common: Partial<ImportItem>;
}

/** The imports asked for: the list file's lines, the S3 prefix's videos, or the URL arguments. */
async function readSources(
  io: CliIo,
  o: SourceOptions,
): Promise<{ sources: Source[]; problems: Rejection[] }> {
  if (o.file !== undefined) {
    const list = parseList(await readList(io, o.file));
    return {
      problems: list.problems.map((p) => ({ where: `line ${p.line}`, url: '', message: p.message })),
      sources: list.entries.map((e) => ({
        where: `line ${e.line}`,
        shown: e.url,
        item: {
          origin_url: e.url,
          ...(e.name ? { name: e.name } : {}),
          ...(e.description ? { description: e.description } : {}),
          ...o.common,
        },
      })),
    };
  }
  if (o.s3) {
    const { bucket, prefix } = o.s3;
    const client = createS3Client({ env: io.env, endpoint: o.endpoint, region: o.region });
    try {
      const listing = await listVideos(client, o.s3).catch((error: unknown) => {
        throw new CliError(`cannot list s3://${bucket}/${prefix}: ${(error as Error).message}`);
      });
      const skipped = listing.skipped;
      println(
        io,
        `s3://${bucket}/${prefix}: ${listing.videos.length} video${listing.videos.length === 1 ? '' : 's'}` +
          (skipped > 0 ? ` (${skipped} other object${skipped === 1 ? '' : 's'} skipped)` : ''),
      );
      const sources: Source[] = [];
      for (const video of listing.videos) {
        sources.push({
          where: `s3://${bucket}/${video.key}`,
          shown: '',
          item: {
            origin_url: await presignGet(client, bucket, video.key, o.expires),
            name: titleOf(video.key),
            // Presigned URLs differ on every run; the object does not. A re-run finds its jobs.
            idempotency_key: `s3://${bucket}/${video.key}`,
            ...o.common,
          },
        });
      }
      return { sources, problems: [] };
    } finally {
      client.destroy();
    }
  }
  return {
    problems: [],
    sources: o.urls.map((url, i) => ({
      where: `argument ${i + 1}`,
      shown: url,
      item: {
        origin_url: url,
        ...(o.name !== undefined ? { name: o.name } : {}),
        ...(o.description !== undefined ? { description: o.description } : {}),
        ...o.common,
      },
    })),
  };
}

async function readList(io: CliIo, file: string): Promise<string> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return await fs.readFile(path.resolve(io.cwd, file), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(
      code === 'ENOENT' ? `no such file: ${file}` : `cannot read ${file}: ${code}`,
      'import',
    );
  }
}

/** One URL: `POST /api/imports`; more: `POST /api/imports/batch` in chunks of at most 10 000. */
async function submit(
  client: RelayClient,
  sources: readonly Source[],
  io: CliIo,
  batchName: string | undefined,
): Promise<Submission> {
  const out: Submission = {
    created: [],
    existing: [],
    accepted: [],
    rejected: [],
    origin: new Map(),
    batch: null,
  };
  if (sources.length === 1) {
    const [only] = sources as [Source];
    try {
      const { job, existing } = await client.createImport(only.item);
      (existing ? out.existing : out.created).push(job);
      out.origin.set(job.id, display(only));
    } catch (error) {
      if (
        !(error instanceof RelayError) ||
        error.status === null ||
        error.status >= 500 ||
        error.status === 401
      ) {
        throw error;
      }
      if (error.status === 404 && error.is('NOT_FOUND')) throw error;
      out.rejected.push({ where: only.where, url: only.shown, message: error.message });
    }
    return out;
  }
  const seen = new Set<string>();
  const chunks = chunkSources(sources);
  let submitted = 0;
  for (const chunk of chunks) {
    // The first request makes the batch; the others join it: one migration, one batch.
    const target = out.batch ? { batch: out.batch.id } : batchName ? { name: batchName } : {};
    const result = await withRetries(
      () =>
        client.createImports(
          chunk.map((s) => s.item),
          target,
        ),
      io,
    );
    if (result.batch) out.batch = result.batch;
    const rejectedIndexes = new Set<number>();
    for (const r of result.rejected) {
      rejectedIndexes.add(r.index);
      const source = chunk[r.index];
      out.rejected.push({
        where: source?.where ?? `item ${submitted + r.index + 1}`,
        url: source?.shown ?? '',
        message: `${r.error.message} (${r.error.code})`,
      });
    }
    // One job per accepted item, in the order sent.
    const accepted = chunk.filter((_, i) => !rejectedIndexes.has(i));
    result.jobs.forEach((job, i) => {
      const source = accepted.length === result.jobs.length ? accepted[i] : undefined;
      if (source && !out.origin.has(job.id)) out.origin.set(job.id, display(source));
      // The same URL twice in one list is one job (the relay marks only its first item created).
      if (seen.has(job.id)) return;
      seen.add(job.id);
      const created = result.created?.[i];
      (created === undefined ? out.accepted : created ? out.created : out.existing).push(job);
    });
    submitted += chunk.length;
    if (chunks.length > 1) println(io, `submitted ${submitted}/${sources.length}`);
  }
  return out;
}

const display = (source: Source): string =>
  source.shown ? `${source.where}: ${source.shown}` : source.where;

/** Items per batch request: far below the API's 10 000, so a slow pre-flight never times a request out. */
export const BATCH_SIZE = 1_000;
/** Bytes of JSON per batch request, below the relay's 16 MB body limit. */
const BATCH_BYTES = 8_000_000;

function chunkSources(sources: readonly Source[]): Source[][] {
  const chunks: Source[][] = [];
  let current: Source[] = [];
  let bytes = 0;
  for (const source of sources) {
    const size = JSON.stringify(source.item).length + 1;
    if (
      current.length > 0 &&
      (current.length >= Math.min(BATCH_SIZE, BATCH_LIMIT) || bytes + size > BATCH_BYTES)
    ) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(source);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** Batches are idempotent per origin_url, so one lost to a timeout or a restart is simply sent again. */
async function withRetries<T>(send: () => Promise<T>, io: CliIo): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (error) {
      if (!(error instanceof RelayError) || !error.transient || attempt >= 3 || io.signal?.aborted)
        throw error;
      io.stderr.write(`relay import: ${error.message}; sending the batch again\n`);
      // A Ctrl-C ends the wait early; the next failure then is thrown.
      await sleep(1_000 * attempt, io.signal).catch(() => {});
    }
  }
}

async function waitForImports(
  client: RelayClient,
  jobs: readonly PublicJob[],
  origin: ReadonlyMap<string, string>,
  io: CliIo,
): Promise<'ready' | 'failed' | 'interrupted'> {
  const progress = createProgress(io.stdout, io.now);
  const ids = [...new Set(jobs.map((j) => j.id))];
  const latest = new Map(jobs.map((j) => [j.id, j]));
  const tally = progress.tally(ids.length);
  const count = () => {
    const c = { final: 0, ready: 0, failed: 0, canceled: 0 };
    for (const job of latest.values()) {
      if (job.state === 'ready') c.ready++;
      else if (job.state === 'failed') c.failed++;
      else if (job.state === 'canceled') c.canceled++;
      else continue;
      c.final++;
    }
    return c;
  };
  try {
    const result = await followJobs({
      client,
      ids,
      signal: io.signal,
      ...(io.pollIntervalMs !== undefined ? { pollIntervalMs: io.pollIntervalMs } : {}),
      ...(io.now ? { now: io.now } : {}),
      onUpdate: (job) => {
        latest.set(job.id, job);
        tally.update(count());
      },
      onOutage: (error) => progress.log(`the relay stopped answering (${error.message}); still trying`),
    });
    progress.stop();
    for (const id of result.gone)
      println(io, `${origin.get(id) ?? id}: job ${id} no longer exists on the relay`);
    for (const job of latest.values()) {
      if (job.state !== 'failed' && job.state !== 'canceled') continue;
      const reason = job.error ? `${job.error.message} (${job.error.code})` : '';
      const where = origin.get(job.id) ?? job.origin_url ?? '';
      println(io, `${where}: ${job.state}${reason ? `: ${reason}` : ''} (job ${job.id})`);
    }
    if (result.interrupted) {
      io.stderr.write('stopped waiting; the imports go on at the relay (pnpm relay jobs --kind import)\n');
      return 'interrupted';
    }
    const c = count();
    println(io, `jobs: ${c.ready} ready, ${c.failed} failed${c.canceled ? `, ${c.canceled} canceled` : ''}`);
    return result.gone.length === 0 && c.ready === ids.length ? 'ready' : 'failed';
  } finally {
    progress.stop();
  }
}
