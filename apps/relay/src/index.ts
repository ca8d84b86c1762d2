export { createRelayApp, type Relay, type RelayDeps, type RelaySettings } from './app.js';
export { type Listening, listen } from './server.js';
export { startTestRelay, type TestRelay, type TestRelayOptions, tusUpload } from './testing.js';
