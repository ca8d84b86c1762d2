import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePrivateDir } from '@gtr/core';
import { type Logger, pino } from 'pino';
import { type LoggedRequest, RequestLog } from './api/request-log.js';
import { createEmulatorApp } from './app.js';
import { Bandwidth } from './bandwidth.js';
import { type EmulatedVideo, toEmulatedVideo, VideoCatalog } from './catalog.js';
import { Clock } from './clock.js';
import type { EmulatorContext } from './context.js';
import { FaultSwitches, type Faults } from './faults.js';
import { Processor } from './processing.js';
import { OriginPuller } from './pull.js';
import { RateLimiter } from './rate-window.js';
import { type EmulatorStats, Stats } from './stats.js';
import { UploadTokens } from './tokens.js';
import { WebhookSender } from './webhooks.js';

export const DEFAULT_API_KEY = 'emulator-key';
export const DEFAULT_CLIENT_ID = 100;

export interface EmulatorOptions {
  /** The only API key accepted. Default `emulator-key`. */
  apiKey?: string;
  /** Port to listen on; 0 picks a free one. Default 0. */
  port?: number;
  /** Address to listen on. Default `127.0.0.1`. */
  host?: string;
  /** Where uploaded and pulled files land. Default: a fresh temporary directory, removed by `close()`. */
  dataDir?: string;
  /** Epoch ms for tokens, timestamps and rate windows. Default `Date.now`. */
  clock?: () => number;
  /** Faults to start with (and to return to on reset). Default: none. */
  faults?: Partial<Faults>;
  /** Where Gcore-format webhooks are POSTed on status changes and deletions. Default: none sent. */
  webhookUrl?: string;
  /** The account's `client_id`. Default 100. */
  clientId?: number;
  /** Default: silent. */
  logger?: Logger;
}

export interface Emulator {
  /** API base URL, e.g. `http://127.0.0.1:43123` (use as `GCORE_API_URL`). */
  url: string;
  apiKey: string;
  /** Merges into the current faults (validated: throws FaultsError on unknown keys or bad values). */
  setFaults(patch: Partial<Faults>): void;
  /** Back to the faults given at start; every-Nth counters and the rate-limit window restart. */
  resetFaults(): void;
  faults(): Faults;
  /** Moves the emulator's clock forward (with or without a custom clock). */
  advanceClock(ms: number): void;
  stats(): EmulatorStats;
  resetStats(): void;
  video(id: number): EmulatedVideo | undefined;
  videos(): EmulatedVideo[];
  /** The list (`GET /streaming/videos`) and batch-create calls received since start or `resetStats()`. */
  requests(): LoggedRequest[];
  /** Stops listening, drops every connection, ends timers, pulls and webhooks; removes a temporary dataDir. */
  close(): Promise<void>;
}

function urlHost(host: string): string {
  // A wildcard address cannot be dialled; loopback reaches it.
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/** Starts an emulator of Gcore's Streaming API and TUS upload servers. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const apiKey = options.apiKey ?? DEFAULT_API_KEY;
  const host = options.host ?? '127.0.0.1';
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'gcore-emulator-')));
  const logger = options.logger ?? pino({ level: 'silent' });
  const closing = new AbortController();

  const clock = new Clock(options.clock);
  const faults = new FaultSwitches(options.faults);
  const stats = new Stats();
  const webhooks = new WebhookSender(options.webhookUrl, stats, logger);
  const videos = new VideoCatalog(clock, options.clientId ?? DEFAULT_CLIENT_ID, {
    changed: (video) => webhooks.videoChanged(video),
    deleted: (video) => webhooks.videoDeleted(video),
  });
  const processor = new Processor(videos, faults);
  let port = options.port ?? 0;

  const uploadDir = join(dataDir, 'uploads');
  // Uploaded videos are private: the folders are 0700 whatever the umask (FileStore would make
  // its folder 0777 & ~umask), the files 0600 (see tus/server.ts and pull.ts).
  ensurePrivateDir(dataDir);
  ensurePrivateDir(uploadDir);
  const ctx: EmulatorContext = {
    apiKey,
    clientId: options.clientId ?? DEFAULT_CLIENT_ID,
    clock,
    faults,
    stats,
    videos,
    tokens: new UploadTokens(),
    processor,
    puller: new OriginPuller(join(dataDir, 'pulls'), videos, processor, logger),
    rateLimiter: new RateLimiter(),
    bandwidth: new Bandwidth(() => faults.current.bandwidthBytesPerSec, closing.signal),
    logger,
    requests: new RequestLog(),
    uploadDir,
    selfHost: () => `${urlHost(host)}:${port}`,
  };

  const emulator: Omit<Emulator, 'url' | 'close'> = {
    apiKey,
    setFaults: (patch) => faults.set(patch),
    resetFaults: () => {
      faults.reset();
      ctx.rateLimiter.clear();
    },
    faults: () => ({ ...faults.current }),
    advanceClock: (ms) => clock.advance(ms),
    stats: () => stats.snapshot(),
    resetStats: () => {
      stats.reset();
      ctx.requests.clear();
    },
    video: (id) => {
      const video = videos.get(id);
      return video && toEmulatedVideo(video);
    },
    videos: () => videos.all().map(toEmulatedVideo),
    requests: () => ctx.requests.entries(),
  };

  const app = createEmulatorApp(ctx, {
    ...emulator,
    setFaults: (patch) => faults.set(patch as Partial<Faults>),
    now: () => clock.now(),
  });
  const server = createServer(app);
  // Throttled or stalled uploads may legitimately take longer than Node's default 5 minutes.
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  const url = `http://${urlHost(host)}:${port}`;
  logger.info({ url }, 'Gcore emulator listening');

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      closing.abort();
      processor.close();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await Promise.all([stopped, ctx.puller.close(), webhooks.close()]);
      if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
    })();
    return closed;
  };

  return { ...emulator, url, close };
}
