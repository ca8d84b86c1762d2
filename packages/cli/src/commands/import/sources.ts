import fs from 'node:fs/promises';
import path from 'node:path';
import type { ImportItem } from '../../api.js';
import { CliError, type CliIo, UsageError } from '../../io.js';
import { parseList } from '../../list-file.js';
import { createS3Client, listVideos, presignGet, type S3Location, titleOf } from '../../s3.js';
import { println } from '../command.js';

/** One import with where it came from, for messages: `line 4`, `argument 2`, `s3://b/k`. */
export interface Source {
  where: string;
  /** The URL as messages show it; empty for presigned URLs (the S3 key in `where` says it all). */
  shown: string;
  item: ImportItem;
}

export type Rejection = { where: string; url: string; message: string };

export interface SourceOptions {
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
export async function readSources(
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
