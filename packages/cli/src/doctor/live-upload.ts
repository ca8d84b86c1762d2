import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sleep } from '@gtr/core';
import { chooseUploadEndpoint, forwardFile, type GcoreClient, type GcoreVideo } from '@gtr/gcore';
import { formatBytes } from '../format.js';
import type { CliIo } from '../io.js';
import { type DoctorOptions, message, type Report } from './report.js';

const LIVE_SIZE = 1_000_000;

/** `live upload` and `live cleanup` (--live): 1 MB through TUS to a new video, then the video deleted. */
export async function liveUpload(
  client: GcoreClient,
  io: CliIo,
  options: DoctorOptions,
  report: Report,
  /** GCORE_ALLOW_INSECURE_UPLOAD: as the worker, never an `ssl: false` server unless allowed. */
  allowInsecure: boolean,
): Promise<void> {
  const signal = io.signal;
  const req = signal ? { signal } : {};
  const name = `relay doctor ${new Date().toISOString()}`;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'relay-doctor-'));
  let video: GcoreVideo | undefined;
  try {
    video = await client.createVideo({ name }, req);
    const params = await client.getUploadParams(video.id, req);
    const endpoint = chooseUploadEndpoint(params, { allowInsecure });
    const file = path.join(dir, 'relay-doctor.mp4');
    await writeLiveFile(file, LIVE_SIZE);
    const started = Date.now();
    const result = await forwardFile({
      filePath: file,
      endpoint,
      size: LIVE_SIZE,
      metadata: {
        filename: 'relay-doctor.mp4',
        filetype: 'video/mp4',
        token: params.token,
        video_id: video.id,
        client_id: params.video?.client_id ?? video.client_id,
      },
      ...(signal ? { signal } : {}),
      stallTimeoutMs: 30_000,
      maxRateLimitWaitMs: 30_000,
    });
    const took = Date.now() - started;
    // Gcore moves the video out of `empty` once it has the file.
    const deadline = Date.now() + (options.liveStatusTimeoutMs ?? 120_000);
    let current = await client.getVideo(video.id, req);
    while (current.status === 'empty' && !current.error && Date.now() < deadline && !signal?.aborted) {
      await sleep(io.pollIntervalMs ?? 1_000, signal).catch(() => {}); // a Ctrl-C ends the wait
      current = await client.getVideo(video.id, req);
    }
    const sent = `${formatBytes(LIVE_SIZE)} sent with tus-js-client to ${new URL(endpoint).host} in ${took} ms (${formatBytes(result.bytesSent)} on the wire), video ${video.id}`;
    if (current.status === 'empty' && !current.error) {
      report(
        'live upload',
        'fail',
        `${sent}, but Gcore still says "empty" after ${Math.round((options.liveStatusTimeoutMs ?? 120_000) / 1000)} s`,
      );
    } else if (current.status === 'error' || current.error) {
      report(
        'live upload',
        'warn',
        `${sent}; the TUS upload was accepted, then Gcore reports "${current.status}"${current.error ? ` (${current.error})` : ''}: the 1 MB test file is not a playable video`,
      );
    } else {
      report('live upload', 'ok', `${sent}; Gcore reports status "${current.status}"`);
    }
  } catch (error) {
    const where = video ? ` (video ${video.id})` : '';
    report('live upload', 'fail', `${message(error)}${where}`);
  } finally {
    await fs.rm(dir, { recursive: true, force: true }).catch(() => {});
    if (video) {
      try {
        await client.deleteVideo(video.id, { ignoreNotFound: true });
        report('live cleanup', 'ok', `video ${video.id} "${name}" deleted`);
      } catch (error) {
        report(
          'live cleanup',
          'fail',
          `could not delete video ${video.id} "${name}" (${message(error)}); delete it in Gcore's dashboard`,
        );
      }
    }
  }
}

/** A file that starts like an MP4 (`ftyp` box) and continues with random bytes. */
async function writeLiveFile(file: string, size: number): Promise<void> {
  const data = randomBytes(size);
  const ftyp = Buffer.concat([
    Buffer.from([0, 0, 0, 0x20]),
    Buffer.from('ftypisom'),
    Buffer.from([0, 0, 2, 0]),
    Buffer.from('isomiso2avc1mp41'),
  ]);
  ftyp.copy(data, 0);
  await fs.writeFile(file, data, { mode: 0o600 });
}
