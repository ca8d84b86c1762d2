export type { LoggedRequest } from './api/request-log.js';
export type { EmulatedVideo, VideoStatus } from './catalog.js';
export { detectContainer } from './container.js';
export {
  DEFAULT_API_KEY,
  DEFAULT_CLIENT_ID,
  type Emulator,
  type EmulatorOptions,
  startEmulator,
} from './emulator.js';
export { DEFAULT_FAULTS, type Faults, FaultsError, parseFaults, type RetryAfterForm } from './faults.js';
export type { EmulatorStats } from './stats.js';
