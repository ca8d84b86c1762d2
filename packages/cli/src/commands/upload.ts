import { createHash } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { PublicJob } from '@gtr/contract';
import { type DetailedError, Upload } from 'tus-js-client';
import { type RelayClient, relayHttpError, relayNetworkError } from '../api.js';
import { connect, intOption, parseCommandArgs, sizeOption } from '../args.js';
import { followJobs } from '../follow.js';
import { formatBytes } from '../format.js';
import { CliError, type CliIo, EXIT, UsageError } from '../io.js';
import { guessVideoType } from '../media-types.js';
import { createProgress, type Progress } from '../progress.js';
import { defaultUploadStorePath, FileUploadStore } from '../upload-store.js';
import type { Command } from './command.js';

const options = {
  name: { type: 'string' },
  description: { type: 'string' },
  'directory-id': { type: 'string' },
  'chunk-size': { type: 'string' },
  'no-wait': { type: 'boolean' },
  batch: { type: 'string' },
} as const;

/** Default PATCH size: big enough to be fast, small enough that a retry re-sends little. */
export const DEFAULT_CHUNK_SIZE = 50_000_000;

/** Waits between tus-js-client's attempts after a network error or a 5xx, in ms (about 40 s in all). */
const RETRY_DELAYS = [0, 1_000, 3_000, 5_000, 10_000, 20_000];

const USAGE = `Usage: pnpm relay upload FILE... [--name N] [--description D] [--directory-id N]
                         [--chunk-size BYTES] [--batch ID] [--no-wait]

Uploads each file to the relay over TUS (one after the other, with a progress bar), then waits
until every job is final: ready, failed or canceled. Interrupted (Ctrl-C)? Run the same command
again: it resumes where it stopped.
  --name N            video title (one file only; default: the file name without extension)
  --description D     video description
  --directory-id N    Gcore directory for the videos
  --chunk-size BYTES  bytes per PATCH, e.g. 52428800, 50MB or 64MiB (default 50MB)
  --batch ID          the files join this batch (a folder as one migration: make it with
                      pnpm relay batch new NAME; follow it with pnpm relay batch ID)
  --no-wait           stop once the files are on the relay

Each file's SHA-256 is compared with the one the relay computed as it received the file ("sha256
matches"); a mismatch fails that file.

Exit code: 0 when every video is ready (with --no-wait: uploaded), 1 when one failed or arrived
different, 130 when interrupted.`;

interface LocalFile {
  path: string;
  label: string;
  size: number;
  mtimeMs: number;
}

type UploadOutcome =
  | { status: 'uploaded'; id: string; sha256: string | null }
  | { status: 'interrupted' }
  | { status: 'failed'; message: string };

export const uploadCommand: Command = {
  name: 'upload',
  summary: 'upload video files and wait until they are ready',
  usage: USAGE,

  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('upload', argv, options);
    if (positionals.length === 0) throw new UsageError('which file? give at least one', 'upload');
    if (values.name !== undefined && positionals.length > 1) {
      throw new UsageError('--name names one video; upload one file at a time to set it', 'upload');
    }
    const directoryId = intOption('upload', 'directory-id', values['directory-id'], { min: 0 });
    const chunkSize = sizeOption('upload', 'chunk-size', values['chunk-size']) ?? DEFAULT_CHUNK_SIZE;
    const files = await Promise.all(positionals.map((p) => localFile(io, p)));
    const metadataFor = (file: LocalFile): Record<string, string> => {
      const filename = path.basename(file.path);
      const filetype = guessVideoType(filename);
      return {
        filename,
        ...(filetype ? { filetype } : {}),
        ...(values.name !== undefined ? { name: values.name } : {}),
        ...(values.description !== undefined ? { description: values.description } : {}),
        ...(directoryId !== undefined ? { directory_id: String(directoryId) } : {}),
        ...(values.batch !== undefined ? { batch: values.batch } : {}),
      };
    };

    const client = await connect(values, io);
    // Fails fast, with the helpful message, when the relay is down or refuses the token.
    await client.check();
    const store = new FileUploadStore(defaultUploadStorePath(io.env));
    const progress = createProgress(io.stdout, io.now);

    const uploaded: Array<{ file: LocalFile; id: string }> = [];
    let failures = 0;
    try {
      for (const file of files) {
        const outcome = await uploadFile({
          io,
          client,
          store,
          progress,
          file,
          chunkSize,
          metadata: metadataFor(file),
        });
        if (outcome.status === 'interrupted') {
          progress.stop();
          io.stderr.write('interrupted; run the same command again to resume\n');
          return EXIT.interrupted;
        }
        if (outcome.status === 'failed') {
          failures++;
          progress.log(`${file.label}: ${outcome.message}`);
        } else if (await sameBytes(client, progress, file, outcome)) {
          uploaded.push({ file, id: outcome.id });
        } else {
          failures++;
        }
      }

      if (values['no-wait'] || uploaded.length === 0) {
        for (const { file, id } of uploaded) {
          const job = await client.getJob(id).catch(() => null);
          progress.log(
            `${file.label}: job ${id}${job ? ` is ${job.state}` : ''}; follow it with: pnpm relay job ${id}`,
          );
        }
        return failures > 0 ? EXIT.failed : EXIT.ok;
      }

      const lines = new Map(uploaded.map(({ file, id }) => [id, progress.job(file.label)]));
      const result = await followJobs({
        client,
        ids: uploaded.map((u) => u.id),
        signal: io.signal,
        ...(io.pollIntervalMs !== undefined ? { pollIntervalMs: io.pollIntervalMs } : {}),
        ...(io.now ? { now: io.now } : {}),
        onUpdate: (job: PublicJob) => lines.get(job.id)?.update(job),
        onOutage: (error) => progress.log(`the relay stopped answering (${error.message}); still trying`),
      });
      for (const id of result.gone) progress.log(`job ${id} no longer exists on the relay`);
      if (result.interrupted) {
        progress.stop();
        io.stderr.write(
          `stopped waiting; the jobs go on at the relay: ${uploaded.map((u) => `pnpm relay job ${u.id}`).join(', ')}\n`,
        );
        return EXIT.interrupted;
      }
      const allReady = uploaded.every(({ id }) => result.jobs.get(id)?.state === 'ready');
      return failures === 0 && allReady ? EXIT.ok : EXIT.failed;
    } finally {
      progress.stop();
    }
  },
};

/**
 * Whether the relay got the file as it is here: its job's `sha256` (computed by the relay while
 * receiving) against the one read here. A relay that reports none (older) is taken at its word.
 */
async function sameBytes(
  client: RelayClient,
  progress: Progress,
  file: LocalFile,
  outcome: { id: string; sha256: string | null },
): Promise<boolean> {
  const job = await client.getJob(outcome.id).catch(() => null);
  const relaySha = job?.sha256 ?? null;
  if (relaySha === null || outcome.sha256 === null) return true;
  if (relaySha === outcome.sha256) {
    progress.log(`${file.label}: sha256 matches (${relaySha})`);
    return true;
  }
  progress.log(
    `${file.label}: sha256 MISMATCH: the relay received ${relaySha}, the file here is ${outcome.sha256}; ` +
      `did it change during the upload? Cancel job ${outcome.id} (pnpm relay cancel ${outcome.id}) and upload it again`,
  );
  return false;
}

/** SHA-256 of the file, read beside the upload (null when it cannot be read or was stopped). */
async function hashLocalFile(file: string, signal: AbortSignal): Promise<string | null> {
  try {
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(file, { signal, highWaterMark: 1024 * 1024 }))
      hash.update(chunk as Buffer);
    return hash.digest('hex');
  } catch {
    return null;
  }
}

async function localFile(io: CliIo, given: string): Promise<LocalFile> {
  const full = path.resolve(io.cwd, given);
  const stat = await fs.stat(full).catch(() => null);
  if (!stat) throw new UsageError(`no such file: ${given}`, 'upload');
  if (!stat.isFile()) throw new UsageError(`not a file: ${given}`, 'upload');
  return { path: full, label: path.basename(full), size: stat.size, mtimeMs: stat.mtimeMs };
}

interface UploadFileOptions {
  io: CliIo;
  client: RelayClient;
  store: FileUploadStore;
  progress: Progress;
  file: LocalFile;
  chunkSize: number;
  metadata: Record<string, string>;
}

/**
 * One TUS upload with tus-js-client, resumed from the upload store when this file (same relay,
 * path, size and mtime) was interrupted before.
 */
async function uploadFile(o: UploadFileOptions): Promise<UploadOutcome> {
  const { io, file, progress } = o;
  const target = o.client.target;
  const now = io.now ?? Date.now;
  const fingerprint = ['relay-cli', target.url, file.path, file.size, Math.trunc(file.mtimeMs)].join('::');
  const stream: ReadStream = createReadStream(file.path);
  // Keep the descriptor from holding the process open if we stop early.
  stream.on('error', () => {});
  // Read beside the upload rather than from its slices: a resume skips what the relay has.
  const hashing = new AbortController();
  const localSha = hashLocalFile(file.path, hashing.signal);

  let resumedAt: number | null = null;
  let bar: ReturnType<Progress['transfer']> | null = null;
  let lastActivity = now();
  let stallRestarts = 0;

  return new Promise<UploadOutcome>((resolve) => {
    let settled = false;
    let watchdog: NodeJS.Timeout | undefined;
    const finish = (outcome: UploadOutcome) => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      io.signal?.removeEventListener('abort', onAbort);
      stream.destroy();
      if (outcome.status !== 'uploaded') hashing.abort();
      resolve(outcome);
    };

    const upload = new Upload(stream, {
      endpoint: `${target.url}/files/`,
      uploadSize: file.size,
      chunkSize: o.chunkSize,
      retryDelays: io.uploadRetryDelays ?? RETRY_DELAYS,
      metadata: o.metadata,
      headers: target.token !== null ? { Authorization: `Bearer ${target.token}` } : {},
      urlStorage: o.store,
      fingerprint: async () => fingerprint,
      storeFingerprintForResuming: true,
      // Removed by us, awaited, in onSuccess: tus-js-client's own removal is not awaited.
      removeFingerprintOnSuccess: false,
      onAfterResponse: (req, res) => {
        lastActivity = now();
        if (req.getMethod() === 'HEAD' && res.getStatus() < 300) {
          resumedAt = Number.parseInt(res.getHeader('Upload-Offset') ?? '', 10);
        }
      },
      onUploadUrlAvailable: () => {
        const id = jobIdOf(upload.url);
        if (resumedAt !== null && resumedAt > 0) {
          progress.log(
            `${file.label}: resuming job ${id} at ${formatBytes(resumedAt)} of ${formatBytes(file.size)}`,
          );
        } else {
          progress.log(`${file.label}: uploading ${formatBytes(file.size)} as job ${id}`);
        }
      },
      onProgress: (sent) => {
        lastActivity = now();
        bar ??= progress.transfer(file.label, file.size, resumedAt ?? 0);
        bar.update(sent);
      },
      onSuccess: () => {
        const id = jobIdOf(upload.url);
        void forget(o.store, fingerprint)
          .then(() => localSha)
          .then((sha256) => {
            const line = `${file.label}: uploaded (job ${id})`;
            if (bar) bar.finish(line);
            else progress.log(line);
            finish({ status: 'uploaded', id, sha256 });
          });
      },
      onError: (error) => {
        const message = describeTusError(error, o.client);
        if (bar) bar.interrupt(`${file.label}: stopped`);
        finish({ status: 'failed', message });
      },
    });

    const onAbort = () => {
      void upload.abort(false).finally(() => {
        if (bar) bar.interrupt(`${file.label}: interrupted`);
        finish({ status: 'interrupted' });
      });
    };
    if (io.signal?.aborted) {
      finish({ status: 'interrupted' });
      return;
    }
    io.signal?.addEventListener('abort', onAbort, { once: true });

    const stallMs = io.stallTimeoutMs ?? 60_000;
    watchdog = setInterval(
      () => {
        if (settled || now() - lastActivity < stallMs) return;
        if (++stallRestarts > 5) {
          void upload.abort(false);
          finish({
            status: 'failed',
            message: `the transfer stalled ${stallRestarts - 1} times; run the command again to resume`,
          });
          return;
        }
        progress.log(`${file.label}: no progress for ${stallMs / 1000} s; reconnecting`);
        lastActivity = now();
        // The aborted request reports its error a moment later; starting again before that
        // would count it against the new attempt.
        void upload.abort(false).then(() => {
          setTimeout(() => {
            if (!settled) upload.start();
          }, 250);
        });
      },
      Math.min(5_000, stallMs),
    );
    watchdog.unref();

    upload
      .findPreviousUploads()
      .then((previous) => {
        const latest = previous[0];
        if (latest) upload.resumeFromPreviousUpload(latest);
      })
      .catch(() => {})
      .finally(() => {
        if (!settled) upload.start();
      });
  });
}

/** The job has the upload's id: the last path segment of its URL. */
export function jobIdOf(uploadUrl: string | null): string {
  const pathname = uploadUrl ? new URL(uploadUrl).pathname : '';
  return decodeURIComponent(pathname.split('/').filter(Boolean).pop() ?? '');
}

async function forget(store: FileUploadStore, fingerprint: string): Promise<void> {
  try {
    for (const entry of await store.findUploadsByFingerprint(fingerprint)) {
      await store.removeUpload(entry.urlStorageKey);
    }
  } catch {
    // A stale entry only means a re-run finds the finished upload and reports the same job.
  }
}

function describeTusError(error: Error | DetailedError, client: RelayClient): string {
  const detailed = error as Partial<DetailedError>;
  const res = detailed.originalResponse;
  if (res) {
    return relayHttpError(res.getStatus(), res.getBody() ?? '', client.target, 'the TUS endpoint (/files/)')
      .message;
  }
  const network = relayNetworkError(detailed.causingError ?? error, client.target);
  if (network) return `${network.message}; run the same command again to resume`;
  return new CliError(`upload failed: ${error.message}`).message;
}
