import path from 'node:path';
import { GetObjectCommand, paginateListObjectsV2, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { extensionOf, VIDEO_EXTENSIONS } from '@gtr/contract';

/** `s3://bucket/prefix` taken apart. */
export interface S3Location {
  bucket: string;
  /** May be empty: the whole bucket. */
  prefix: string;
}

export interface S3Video {
  key: string;
  size: number;
}

export interface S3Listing {
  videos: S3Video[];
  /** Objects under the prefix that are not video files (folders markers, images, manifests…). */
  skipped: number;
}

/** Parses `s3://bucket/prefix`; null when it is not one. */
export function parseS3Url(raw: string): S3Location | null {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(raw.trim());
  if (!match?.[1]) return null;
  return { bucket: match[1], prefix: match[2] ?? '' };
}

export interface S3Settings {
  /** Standard AWS variables: AWS_REGION / AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID, … */
  env: Readonly<Record<string, string | undefined>>;
  /** S3-compatible storage (MinIO, Ceph, R2…); default `AWS_ENDPOINT_URL_S3`, then AWS. */
  endpoint?: string | undefined;
  region?: string | undefined;
}

/**
 * An S3 client from the standard AWS environment. A custom endpoint implies path-style
 * addressing (`endpoint/bucket/key`), which S3-compatible servers expect.
 */
export function createS3Client(settings: S3Settings): S3Client {
  const { env } = settings;
  const endpoint = settings.endpoint ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  const region = settings.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  return new S3Client({
    region,
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    // Given explicitly when present, so the env handed to the command wins; otherwise the SDK's
    // default chain (profiles, SSO, instance roles) applies.
    ...(accessKeyId && secretAccessKey
      ? {
          credentials: {
            accessKeyId,
            secretAccessKey,
            ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
          },
        }
      : {}),
  });
}

/** Every object under the prefix (ListObjectsV2, all pages) whose extension is a video format. */
export async function listVideos(client: S3Client, location: S3Location): Promise<S3Listing> {
  const videos: S3Video[] = [];
  let skipped = 0;
  const pages = paginateListObjectsV2(
    { client, pageSize: 1000 },
    { Bucket: location.bucket, ...(location.prefix ? { Prefix: location.prefix } : {}) },
  );
  for await (const page of pages) {
    for (const object of page.Contents ?? []) {
      if (!object.Key) continue;
      if (object.Key.endsWith('/') || !VIDEO_EXTENSIONS.has(extensionOf(object.Key))) {
        skipped++;
        continue;
      }
      videos.push({ key: object.Key, size: object.Size ?? 0 });
    }
  }
  return { videos, skipped };
}

/** A GET URL for the object that works without credentials for `expiresIn` seconds. */
export function presignGet(
  client: S3Client,
  bucket: string,
  key: string,
  expiresIn: number,
): Promise<string> {
  return getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn });
}

/** The video title for an object: its file name without the extension. */
export function titleOf(key: string): string {
  const base = path.posix.basename(key);
  const ext = path.posix.extname(base);
  return ext ? base.slice(0, -ext.length) : base;
}
