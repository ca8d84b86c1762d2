export * from './files.js';
export * from './manifests.js';
export * from './sha256.js';
