import type { GcoreClient } from '@gtr/gcore';
import { hostPort, probe } from './net.js';
import { message, type Report } from './report.js';

/** `gcore upload servers`: each server Gcore lists for a video answers (TLS unless `ssl: false`). */
export async function checkUploadServers(
  client: GcoreClient,
  videoId: number,
  req: { signal?: AbortSignal },
  report: Report,
): Promise<void> {
  try {
    const params = await client.getUploadParams(videoId, req);
    const servers = params.servers.filter((s) => typeof s?.hostname === 'string' && s.hostname !== '');
    if (servers.length === 0) {
      report('gcore upload servers', 'fail', `Gcore listed no upload server for video ${videoId}`);
      return;
    }
    const seen = new Set<string>();
    const good: string[] = [];
    const bad: string[] = [];
    for (const server of servers) {
      if (seen.has(server.hostname)) continue;
      seen.add(server.hostname);
      const secure = server.ssl !== false;
      const { host, port } = hostPort(server.hostname, secure ? 443 : 80);
      const result = await probe(host, port, secure);
      if (result.error) bad.push(`${server.hostname}: ${result.error}`);
      else good.push(`${server.hostname} ${secure ? `over ${result.protocol}` : '(plain http, ssl: false)'}`);
    }
    const summary = `${good.length} of ${seen.size} reachable (asked for video ${videoId})`;
    if (bad.length > 0) report('gcore upload servers', 'fail', `${summary}; unreachable: ${bad.join('; ')}`);
    else report('gcore upload servers', 'ok', `${summary}: ${good.join(', ')}`);
  } catch (error) {
    report(
      'gcore upload servers',
      'fail',
      `GET /streaming/videos/${videoId}/upload failed: ${message(error)}`,
    );
  }
}
