// Helpers for the emulator's own tests: a client that speaks to it over real HTTP, like any other.
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeVideoFile } from '@gtr/core/testing';
import * as tus from 'tus-js-client';
import type { Emulator } from './emulator.js';

export interface ApiAnswer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers
  body: any;
}

export async function api(
  emulator: Emulator,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = { authorization: `APIKey ${emulator.apiKey}` },
): Promise<ApiAnswer> {
  const res = await fetch(`${emulator.url}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? null : JSON.parse(text) };
}

export interface UploadParams {
  servers: { id: number; role: string; hostname: string; active: boolean; ssl: boolean }[];
  token: string;
  video: { id: number; client_id: number; name: string };
}

/** Steps 1 and 2 of Gcore's docs: create a video, get its TUS parameters. */
export async function createForUpload(emulator: Emulator, name = 'clip'): Promise<UploadParams> {
  const created = await api(emulator, 'POST', '/streaming/videos', { video: { name } });
  if (created.status !== 200) throw new Error(`create answered ${created.status}`);
  const params = await api(emulator, 'GET', `/streaming/videos/${created.body.id}/upload`);
  if (params.status !== 200) throw new Error(`upload parameters answered ${params.status}`);
  return params.body as UploadParams;
}

export function endpointOf(params: UploadParams, trailingSlash = true): string {
  const server = params.servers.find((s) => s.active) ?? params.servers[0];
  if (!server) throw new Error('no upload server');
  return `${server.ssl ? 'https' : 'http'}://${server.hostname}/upload${trailingSlash ? '/' : ''}`;
}

export function metadataOf(params: UploadParams, filename = 'clip.mp4'): Record<string, string> {
  return {
    filename,
    filetype: 'video/mp4',
    token: params.token,
    video_id: String(params.video.id),
    client_id: String(params.video.client_id),
  };
}

/** Step 3: a tus-js-client upload of a file on disk; resolves with the upload URL. */
export function tusUpload(
  file: { path: string; size: number },
  options: tus.UploadOptions & { endpoint: string },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(createReadStream(file.path) as unknown as Buffer, {
      uploadSize: file.size,
      chunkSize: 256 * 1024,
      retryDelays: null,
      ...options,
      onSuccess: () => resolve(upload.url as string),
      onError: reject,
    });
    upload.start();
  });
}

/** The upload error's HTTP status and body, as tus-js-client reports them. */
export function tusFailure(error: unknown): { status: number | undefined; body: string | undefined } {
  const response = (error as tus.DetailedError).originalResponse;
  return { status: response?.getStatus(), body: response?.getBody() };
}

export function encodeMetadata(metadata: Record<string, string>): string {
  return Object.entries(metadata)
    .map(([key, value]) => `${key} ${Buffer.from(value).toString('base64')}`)
    .join(',');
}

export interface Scratch {
  dir: string;
  /** Writes an MP4-looking file of `size` bytes. */
  video(name: string, size: number, seed?: number): Promise<{ path: string; size: number; sha256: string }>;
  cleanup(): Promise<void>;
}

export async function scratch(): Promise<Scratch> {
  const dir = await mkdtemp(join(tmpdir(), 'gcore-emulator-test-'));
  return {
    dir,
    async video(name, size, seed = 1) {
      const path = join(dir, name);
      const { sha256 } = await writeVideoFile(path, size, seed);
      return { path, size, sha256 };
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Polls until `probe` returns something other than undefined, null or false; fails after `timeoutMs`. */
export async function waitFor<T>(probe: () => T | undefined | null | false, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
