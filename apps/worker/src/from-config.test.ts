import { createLogger, loadConfig, type RelayQueues } from '@gtr/core';
import type { Redis } from 'ioredis';
import { workerDepsFromConfig } from './from-config.js';

// The connections are only passed through; this looks at what the environment turns into.
const deps = {
  redis: null as unknown as Redis,
  queues: null as unknown as RelayQueues,
  logger: createLogger({ level: 'silent' }),
  gcore: { apiUrl: 'http://gcore.invalid', apiKey: 'k' },
};

describe('workerDepsFromConfig: callbacks', () => {
  it('refuses private callback addresses unless the environment says otherwise', () => {
    const { settings } = workerDepsFromConfig(loadConfig({}), deps);
    expect([settings.callbackAllowPrivate, settings.callbackAllowedHosts]).toEqual([false, []]);
  });

  it('passes CALLBACK_ALLOW_PRIVATE and CALLBACK_ALLOWED_HOSTS to the worker', () => {
    const config = loadConfig({
      CALLBACK_ALLOW_PRIVATE: 'true',
      CALLBACK_ALLOWED_HOSTS: 'hooks.internal,tools.lan:8443',
    });
    const { settings } = workerDepsFromConfig(config, deps);
    expect(settings.callbackAllowPrivate).toBe(true);
    expect(settings.callbackAllowedHosts).toEqual([
      { hostname: 'hooks.internal', port: null },
      { hostname: 'tools.lan', port: 8443 },
    ]);
  });

  it('sends the deprecated X-Relay-Signature only with CALLBACK_LEGACY_SIGNATURE=true', () => {
    expect(workerDepsFromConfig(loadConfig({}), deps).settings.callbackLegacySignature).toBe(false);
    const config = loadConfig({ CALLBACK_LEGACY_SIGNATURE: 'true' });
    expect(workerDepsFromConfig(config, deps).settings.callbackLegacySignature).toBe(true);
  });
});

describe('workerDepsFromConfig: plain-http upload servers', () => {
  it('refuses them against Gcore unless GCORE_ALLOW_INSECURE_UPLOAD=true', () => {
    expect(workerDepsFromConfig(loadConfig({}), deps).settings.allowInsecureUpload).toBe(false);
    const config = loadConfig({ GCORE_ALLOW_INSECURE_UPLOAD: 'true' });
    expect(workerDepsFromConfig(config, deps).settings.allowInsecureUpload).toBe(true);
  });

  it('allows them when the upstream is the built-in emulator', () => {
    const emulator = { ...deps, gcore: { ...deps.gcore, emulator: true } };
    expect(workerDepsFromConfig(loadConfig({}), emulator).settings.allowInsecureUpload).toBe(true);
  });
});

describe('workerDepsFromConfig: processing stalls', () => {
  it('fails a video that makes no progress after PROCESSING_STALL_TIMEOUT (default 2 h)', () => {
    expect(workerDepsFromConfig(loadConfig({}), deps).settings.trackStallMs).toBe(2 * 3_600_000);
    const config = loadConfig({ PROCESSING_STALL_TIMEOUT: '30m' });
    expect(workerDepsFromConfig(config, deps).settings.trackStallMs).toBe(30 * 60_000);
  });
});
