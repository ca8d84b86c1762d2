export type { WorkerContext, WorkerSettings } from './context.js';
export { workerDepsFromConfig } from './from-config.js';
export { signBody } from './notify.js';
export { createWorker, type GcoreSettings, type RelayWorker, type WorkerDeps } from './worker.js';
