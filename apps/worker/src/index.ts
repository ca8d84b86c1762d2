export {
  CALLBACK_REASONS,
  type CallbackOutcome,
  type CallbackPolicy,
  sendCallback,
  signBody,
  signTimestamped,
} from './callback.js';
export type { WorkerContext, WorkerSettings } from './context.js';
export { workerDepsFromConfig } from './from-config.js';
export { createWorker, type GcoreSettings, type RelayWorker, type WorkerDeps } from './worker.js';
