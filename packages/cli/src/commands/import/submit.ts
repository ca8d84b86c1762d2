import type { PublicBatch, PublicJob } from '@gtr/contract';
import { sleep } from '@gtr/core/async';
import { type RelayClient, RelayError } from '../../api.js';
import type { CliIo } from '../../io.js';
import { println } from '../command.js';
import type { Rejection, Source } from './sources.js';

/** The batch endpoint takes at most this many items per request. */
export const BATCH_LIMIT = 10_000;

export interface Submission {
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

/** One URL: `POST /api/imports`; more: `POST /api/imports/batch` in chunks of at most 10 000. */
export async function submit(
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
