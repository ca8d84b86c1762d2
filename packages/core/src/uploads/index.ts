export * from './files.js';
export * from './manifests.js';
