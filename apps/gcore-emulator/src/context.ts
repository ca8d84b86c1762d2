import type { Logger } from 'pino';
import type { RequestLog } from './api/request-log.js';
import type { Bandwidth } from './bandwidth.js';
import type { VideoCatalog } from './catalog.js';
import type { Clock } from './clock.js';
import type { FaultSwitches } from './faults.js';
import type { Processor } from './processing.js';
import type { OriginPuller } from './pull.js';
import type { RateLimiter } from './rate-window.js';
import type { Stats } from './stats.js';
import type { UploadTokens } from './tokens.js';

/** The collaborators of one emulator instance, handed to its routes. */
export interface EmulatorContext {
  apiKey: string;
  clientId: number;
  clock: Clock;
  faults: FaultSwitches;
  stats: Stats;
  videos: VideoCatalog;
  tokens: UploadTokens;
  processor: Processor;
  puller: OriginPuller;
  rateLimiter: RateLimiter;
  bandwidth: Bandwidth;
  logger: Logger;
  /** List and batch calls received, for tests. */
  requests: RequestLog;
  /** Where TUS uploads are stored. */
  uploadDir: string;
  /** `host:port` of the emulator, for requests that carry no Host header. */
  selfHost(): string;
}
