import type { Config } from '@gtr/core';
import { GcoreApiError, GcoreClient, type GcoreVideo } from '@gtr/gcore';
import type { CliIo } from '../io.js';
import { checkClock } from './clock.js';
import { liveUpload } from './live-upload.js';
import { hostPort, probe } from './net.js';
import { type DoctorOptions, message, type Report } from './report.js';
import { checkUploadServers } from './upload-servers.js';

/**
 * `gcore api host` and `gcore key`, then with the key the checks that need Gcore's answers:
 * `gcore upload servers`, `clock` and, with --live, `live upload`.
 */
export async function checkGcore(
  config: Config,
  io: CliIo,
  options: DoctorOptions,
  now: () => number,
  report: Report,
): Promise<void> {
  const api = new URL(config.GCORE_API_URL);
  const apiTls = api.protocol === 'https:';
  const { host, port } = hostPort(api.host, apiTls ? 443 : 80);
  const hostProbe = await probe(host, port, apiTls);
  if (hostProbe.error) {
    report(
      'gcore api host',
      'fail',
      `${apiTls ? 'no TLS connection to' : 'cannot connect to'} ${api.host}: ${hostProbe.error}`,
    );
  } else if (apiTls) {
    report(
      'gcore api host',
      'ok',
      `${api.host} over ${hostProbe.protocol}, certificate valid${hostProbe.validTo ? ` until ${hostProbe.validTo}` : ''}`,
    );
  } else {
    report(
      'gcore api host',
      'ok',
      `${api.host} reachable (plain http:// as GCORE_API_URL says, no TLS to check)`,
    );
  }

  const key = config.GCORE_API_KEY;
  const rest = ['gcore upload servers', 'clock', ...(options.live ? ['live upload'] : [])];
  if (!key) {
    report('gcore key', 'fail', 'GCORE_API_KEY is not set: the workers cannot reach Gcore');
    for (const name of rest) report(name, 'skip', 'no Gcore key');
    return;
  }

  // The Date header of Gcore's answers, and when they arrived, for the clock check.
  let dated: { date: string; sentAt: number; receivedAt: number } | null = null;
  const fetcher: typeof fetch = async (input, init) => {
    const sentAt = now();
    const response = await (io.fetch ?? globalThis.fetch)(input, init);
    const date = response.headers.get('date');
    if (date && !dated) dated = { date, sentAt, receivedAt: now() };
    return response;
  };
  const client = new GcoreClient({
    baseUrl: config.GCORE_API_URL,
    apiKey: key,
    fetch: fetcher,
    timeoutMs: 15_000,
    userAgent: 'gcore-tus-relay doctor',
  });
  const signal = io.signal;
  const req = signal ? { signal } : {};

  let newest: GcoreVideo | undefined;
  try {
    const videos = await client.listVideos({ per_page: 1 }, req);
    newest = videos[0];
    report('gcore key', 'ok', `accepted by ${config.GCORE_API_URL} (GET /streaming/videos?per_page=1)`);
  } catch (error) {
    if (error instanceof GcoreApiError && (error.status === 401 || error.status === 403)) {
      report(
        'gcore key',
        'fail',
        `refused by ${config.GCORE_API_URL} (${error.status} ${error.status === 401 ? 'unauthorized' : 'forbidden'}): GCORE_API_KEY is wrong, revoked or lacks Streaming rights`,
      );
    } else {
      report('gcore key', 'fail', `could not be tried: ${message(error)}`);
    }
    for (const name of rest.filter((n) => n !== 'clock' || !dated))
      report(name, 'skip', 'the Gcore key check failed');
    if (dated) checkClock(dated, options, report);
    return;
  }

  // Upload servers: asked for an existing video only (asking creates nothing).
  const videoId = options.videoId ?? newest?.id;
  if (videoId === undefined) {
    report(
      'gcore upload servers',
      'skip',
      'the account has no video to ask for upload servers (pass --video-id ID, or run with --live)',
    );
  } else {
    await checkUploadServers(client, videoId, req, report);
  }

  if (dated) checkClock(dated, options, report);
  else report('clock', 'warn', "Gcore's answer had no Date header to compare the clock with");

  if (options.live) await liveUpload(client, io, options, report, config.GCORE_ALLOW_INSECURE_UPLOAD);
}
