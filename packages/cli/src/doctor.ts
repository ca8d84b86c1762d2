// `pnpm relay doctor`: loaded only by that command (a dynamic import), since it pulls in the relay's
// configuration, Redis client and Gcore client.

import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import {
  type Config,
  ConfigError,
  configSecrets,
  createRedis,
  loadConfig,
  primariesOf,
  type RedisClient,
  type RedisTarget,
  redisTargetOf,
  relayKeys,
  sleep,
} from '@gtr/core';
import {
  chooseUploadEndpoint,
  forwardFile,
  GcoreApiError,
  GcoreClient,
  type GcoreVideo,
  redact,
} from '@gtr/gcore';
import { formatBytes } from './format.js';
import { type CliIo, EXIT } from './io.js';

export type CheckStatus = 'ok' | 'fail' | 'warn' | 'skip';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
}

export interface DoctorOptions {
  /** The disk check fails with fewer free bytes under DATA_DIR. */
  minFree: number;
  /** Upload 1 MB to the Gcore account (creates and deletes a video). */
  live: boolean;
  /** An existing video to ask for upload servers; default the newest in the account. */
  videoId?: number;
  /** Warn when Gcore's clock differs by more, in ms. Default 30 000. */
  maxClockSkewMs?: number;
  /** How long `--live` waits for Gcore to report a status after the upload, in ms. Default 120 000. */
  liveStatusTimeoutMs?: number;
}

const SYMBOL: Record<CheckStatus, string> = { ok: '✓', fail: '✗', warn: '!', skip: '–' };
const LIVE_SIZE = 1_000_000;
const NETWORK_TIMEOUT_MS = 10_000;

const message = (error: unknown): string =>
  error instanceof Error ? error.message || error.name : String(error);

/** Rejects after `ms` (the operation itself keeps running; callers clean up). */
function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Where Redis is, without credentials. */
function describeRedis(target: RedisTarget): string {
  switch (target.kind) {
    case 'single': {
      const url = new URL(target.url);
      url.username = '';
      url.password = '';
      return url.toString().replace(/\/$/, '');
    }
    case 'sentinel':
      return `sentinel master "${target.name}" via ${target.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`;
    case 'cluster':
      return `cluster ${target.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  }
}

/** Every secret the configuration holds, so that no printed line can carry one. */
function secretsOf(config: Config | null, env: CliIo['env']): string[] {
  // Before the configuration is read (it may not be valid), the variables as they are.
  const raw = [env.GCORE_API_KEY, env.REDIS_PASSWORD, env.REDIS_SENTINEL_PASSWORD, env.CALLBACK_SECRET];
  const secrets = [...raw, env.GCORE_WEBHOOK_PATH_SECRET, ...(config ? configSecrets(config) : [])];
  return secrets.filter((s): s is string => typeof s === 'string' && s.trim() !== '').map((s) => s.trim());
}

/** A Redis setting through CONFIG GET, else through INFO (managed Redis often refuses CONFIG). */
async function redisSetting(
  node: RedisClient,
  name: string,
  info: { section: string; field: string; map?: (value: string) => string },
): Promise<{ value: string; via: string } | { error: string }> {
  try {
    const reply = (await node.call('CONFIG', 'GET', name)) as string[];
    if (Array.isArray(reply) && reply.length >= 2) return { value: String(reply[1]), via: 'CONFIG GET' };
  } catch {}
  try {
    const text = await node.info(info.section);
    const match = new RegExp(`^${info.field}:(.*)$`, 'm').exec(text);
    if (match) {
      const raw = match[1]!.trim();
      return { value: info.map ? info.map(raw) : raw, via: `INFO ${info.section}` };
    }
    return { error: `neither CONFIG GET ${name} nor INFO ${info.section} tells` };
  } catch (error) {
    return { error: `CONFIG GET and INFO refused (${message(error)})` };
  }
}

/** Connects (TLS or plain TCP) and reports what the server showed. */
function probe(
  host: string,
  port: number,
  useTls: boolean,
): Promise<{ protocol?: string; validTo?: string; authorized: boolean; error?: string }> {
  return new Promise((resolve) => {
    const done = (result: { protocol?: string; validTo?: string; authorized: boolean; error?: string }) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const socket = useTls
      ? tls.connect({
          host,
          port,
          servername: net.isIP(host) ? undefined : host,
          ALPNProtocols: ['http/1.1'],
        })
      : net.connect({ host, port });
    const timer = setTimeout(
      () => done({ authorized: false, error: `no connection within ${NETWORK_TIMEOUT_MS / 1000} s` }),
      NETWORK_TIMEOUT_MS,
    );
    socket.once('error', (error) => done({ authorized: false, error: message(error) }));
    socket.once(useTls ? 'secureConnect' : 'connect', () => {
      if (!useTls) return done({ authorized: true });
      const secure = socket as tls.TLSSocket;
      const cert = secure.getPeerCertificate();
      done({
        authorized: secure.authorized,
        protocol: secure.getProtocol() ?? 'TLS',
        ...(cert?.valid_to ? { validTo: cert.valid_to } : {}),
        ...(secure.authorized ? {} : { error: String(secure.authorizationError) }),
      });
    });
  });
}

/** `host`, `host:port` or `[v6]:port` with a default port. */
function hostPort(hostname: string, defaultPort: number): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(hostname);
  if (!match) return { host: hostname, port: defaultPort };
  return { host: (match[1] ?? match[2])!, port: match[3] ? Number(match[3]) : defaultPort };
}

/** The nearest directory that exists at or above `dir` (DATA_DIR may not be created yet). */
async function existingAncestor(dir: string): Promise<string> {
  let current = dir;
  for (;;) {
    try {
      if ((await fs.stat(current)).isDirectory()) return current;
    } catch {}
    const parent = path.dirname(current);
    if (parent === current) return current;
    current = parent;
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

/** Runs every check, printing one line each as it finishes; resolves with the exit code. */
export async function runDoctor(io: CliIo, options: DoctorOptions): Promise<number> {
  const results: CheckResult[] = [];
  let secrets: string[] = secretsOf(null, io.env);
  const now = io.now ?? Date.now;
  const report = (name: string, status: CheckStatus, detail: string): CheckResult => {
    const result = { name, status, detail: redact(detail, secrets) };
    results.push(result);
    io.stdout.write(`${SYMBOL[status]} ${name}: ${result.detail}\n`);
    return result;
  };
  const finish = (): number => {
    const failed = results.filter((r) => r.status === 'fail');
    const warned = results.filter((r) => r.status === 'warn').length;
    const skipped = results.filter((r) => r.status === 'skip').length;
    const extra = [
      warned ? `${warned} warning${warned > 1 ? 's' : ''}` : '',
      skipped ? `${skipped} skipped` : '',
    ]
      .filter(Boolean)
      .join(', ');
    io.stdout.write('\n');
    if (failed.length === 0) {
      io.stdout.write(`✓ doctor: ${results.length - skipped} checks passed${extra ? ` (${extra})` : ''}\n`);
      return EXIT.ok;
    }
    io.stdout.write(
      `✗ doctor: ${failed.length} of ${results.length} checks failed (${failed.map((r) => r.name).join(', ')})${extra ? `; ${extra}` : ''}\n`,
    );
    return EXIT.failed;
  };

  // --- configuration -------------------------------------------------------------------------
  let config: Config;
  try {
    config = loadConfig(io.env as Record<string, string | undefined>);
  } catch (error) {
    const detail =
      error instanceof ConfigError
        ? `invalid environment: ${error.problems.join('; ')}`
        : `could not be read: ${message(error)}`;
    report('config', 'fail', `${detail} (nothing else is checked without a valid configuration)`);
    return finish();
  }
  secrets = secretsOf(config, io.env);
  const redisTarget = redisTargetOf(config);
  report(
    'config',
    'ok',
    `the environment is valid (Redis ${describeRedis(redisTarget)}, prefix ${config.REDIS_PREFIX}, Gcore ${config.GCORE_API_URL})`,
  );

  // --- Redis ---------------------------------------------------------------------------------
  await checkRedis(config, redisTarget, report);

  // --- disk ----------------------------------------------------------------------------------
  await checkDisk(config, io, options, report);

  // --- Gcore ---------------------------------------------------------------------------------
  await checkGcore(config, io, options, now, report);

  return finish();
}

type Report = (name: string, status: CheckStatus, detail: string) => CheckResult;

async function checkRedis(config: Config, target: RedisTarget, report: Report): Promise<void> {
  const where = describeRedis(target);
  const redis = createRedis(target, { role: 'client', connectionName: 'relay-doctor' });
  try {
    let version = '';
    try {
      const started = Date.now();
      // The first connection error, not ioredis's retries: stopping then leaves no reconnect timer.
      const failure = await withTimeout(
        new Promise<Error | null>((resolve) => {
          redis.once('ready', () => resolve(null));
          redis.once('error', (error: Error) => resolve(error));
        }),
        NETWORK_TIMEOUT_MS,
        'connect',
      );
      if (failure) throw failure;
      await withTimeout(redis.ping(), NETWORK_TIMEOUT_MS, 'PING');
      const ms = Date.now() - started;
      const info = await redis.info('server').catch(() => '');
      version = /^redis_version:(.*)$/m.exec(info)?.[1]?.trim() ?? '';
      report('redis', 'ok', `reachable at ${where}${version ? ` (Redis ${version})` : ''}, PING ${ms} ms`);
    } catch (error) {
      report('redis', 'fail', `cannot reach ${where}: ${message(error)}`);
      for (const name of ['redis write', 'redis appendonly', 'redis maxmemory-policy']) {
        report(name, 'skip', 'Redis is not reachable');
      }
      return;
    }

    const key = relayKeys(config.REDIS_PREFIX).doctor(randomUUID());
    const value = randomUUID();
    try {
      await withTimeout(redis.set(key, value, 'PX', 60_000), NETWORK_TIMEOUT_MS, 'SET');
      const read = await withTimeout(redis.get(key), NETWORK_TIMEOUT_MS, 'GET');
      await redis.del(key).catch(() => {});
      if (read !== value) {
        report(
          'redis write',
          'fail',
          `SET then GET of ${key} read back ${JSON.stringify(read)}, not what was written`,
        );
      } else {
        report('redis write', 'ok', `a primary: SET/GET round trip under prefix "${config.REDIS_PREFIX}"`);
      }
    } catch (error) {
      const text = message(error);
      const why = /READONLY/.test(text)
        ? 'this is a read-only replica; point the configuration at the primary'
        : /NOPERM|NOAUTH|WRONGPASS/.test(text)
          ? `the Redis user may not write keys under "${config.REDIS_PREFIX}:"`
          : 'the relay cannot store jobs';
      report('redis write', 'fail', `SET ${key} failed (${text}): ${why}`);
    }

    const primaries = primariesOf(redis);
    const aof: string[] = [];
    const policies: string[] = [];
    let aofOk = true;
    let aofUnknown = false;
    let policyOk = true;
    let policyUnknown = false;
    for (const node of primaries) {
      const label = primaries.length > 1 ? `${node.options.host}:${node.options.port} ` : '';
      const appendonly = await redisSetting(node, 'appendonly', {
        section: 'persistence',
        field: 'aof_enabled',
        map: (v) => (v === '1' ? 'yes' : 'no'),
      });
      if ('error' in appendonly) {
        aofUnknown = true;
        aof.push(`${label}unknown: ${appendonly.error}`);
      } else {
        if (appendonly.value !== 'yes') aofOk = false;
        aof.push(`${label}appendonly ${appendonly.value} (${appendonly.via})`);
      }
      const policy = await redisSetting(node, 'maxmemory-policy', {
        section: 'memory',
        field: 'maxmemory_policy',
      });
      if ('error' in policy) {
        policyUnknown = true;
        policies.push(`${label}unknown: ${policy.error}`);
      } else {
        if (policy.value !== 'noeviction') policyOk = false;
        policies.push(`${label}maxmemory-policy ${policy.value} (${policy.via})`);
      }
    }
    if (!aofOk) {
      report(
        'redis appendonly',
        'fail',
        `${aof.join('; ')}: a Redis restart loses jobs and queued forwards; set "appendonly yes" (redis.conf, or CONFIG SET appendonly yes and CONFIG REWRITE)`,
      );
    } else if (aofUnknown) {
      report('redis appendonly', 'warn', `${aof.join('; ')}; make sure append-only persistence is on`);
    } else {
      report('redis appendonly', 'ok', `${aof.join('; ')}: jobs survive a Redis restart`);
    }
    if (!policyOk) {
      report(
        'redis maxmemory-policy',
        'fail',
        `${policies.join('; ')}: Redis may evict BullMQ's keys when memory runs out; set "maxmemory-policy noeviction"`,
      );
    } else if (policyUnknown) {
      report('redis maxmemory-policy', 'warn', `${policies.join('; ')}; BullMQ needs noeviction`);
    } else {
      report('redis maxmemory-policy', 'ok', `${policies.join('; ')}, as BullMQ requires`);
    }
  } finally {
    redis.disconnect();
  }
}

async function checkDisk(config: Config, io: CliIo, options: DoctorOptions, report: Report): Promise<void> {
  const dataDir = path.resolve(io.root ?? io.cwd, config.DATA_DIR);
  try {
    const dir = await existingAncestor(dataDir);
    const stats = await fs.statfs(dir);
    const free = Number(stats.bavail) * Number(stats.bsize);
    const where = dir === dataDir ? dataDir : `${dir} (DATA_DIR ${dataDir} is not created yet)`;
    let writable = true;
    await fs.access(dir, fs.constants.W_OK).catch(() => {
      writable = false;
    });
    const need = `${formatBytes(options.minFree)} wanted`;
    if (!writable) {
      report('disk', 'fail', `${where} is not writable by this user; the relay keeps uploads there`);
    } else if (free < options.minFree) {
      report(
        'disk',
        'fail',
        `${formatBytes(free)} free under ${where}, ${need} (--min-free): uploads are buffered there before they go to Gcore`,
      );
    } else {
      report('disk', 'ok', `${formatBytes(free)} free under ${where} (${need})`);
    }
  } catch (error) {
    report('disk', 'fail', `cannot check ${dataDir}: ${message(error)}`);
  }
}

async function checkGcore(
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

async function checkUploadServers(
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

function checkClock(
  dated: { date: string; sentAt: number; receivedAt: number },
  options: DoctorOptions,
  report: Report,
): void {
  const theirs = Date.parse(dated.date);
  if (Number.isNaN(theirs)) {
    report('clock', 'warn', `Gcore's Date header "${dated.date}" could not be read`);
    return;
  }
  // The header has whole seconds: Gcore's clock is within [theirs, theirs + 1 s) when it answered.
  const ours = (dated.sentAt + dated.receivedAt) / 2;
  const skew = theirs + 500 - ours;
  const limit = options.maxClockSkewMs ?? 30_000;
  const seconds = Math.round(Math.abs(skew) / 1000);
  const direction = skew > 0 ? 'behind' : 'ahead of';
  if (Math.abs(skew) > limit) {
    report(
      'clock',
      'warn',
      `this machine's clock is ${seconds} s ${direction} Gcore's (Date header): more than ${limit / 1000} s; upload tokens and timestamps may be misjudged (run NTP)`,
    );
  } else {
    report('clock', 'ok', `within ${Math.max(1, seconds)} s of Gcore's (Date header)`);
  }
}

async function liveUpload(
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
