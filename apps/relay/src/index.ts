export { createRelayApp, type Relay, type RelayDeps, type RelaySettings } from './app.js';
export { relaySettingsFromConfig } from './from-config.js';
export { type Listening, listen } from './server.js';
