export * from './address-policy.js';
export * from './cidr.js';
export * from './download.js';
export * from './errors.js';
export * from './headers.js';
export * from './host-list.js';
export * from './safe-fetch.js';
