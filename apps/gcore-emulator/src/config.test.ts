import { EmulatorConfigError, loadEmulatorConfig } from './config.js';

describe('loadEmulatorConfig', () => {
  it('applies the documented defaults', () => {
    expect(loadEmulatorConfig({})).toEqual({
      port: 8090,
      host: '127.0.0.1',
      apiKey: 'emulator-key',
      faults: {},
      logLevel: 'info',
    });
  });

  it('reads every variable', () => {
    expect(
      loadEmulatorConfig({
        EMULATOR_PORT: '0',
        EMULATOR_HOST: '0.0.0.0',
        EMULATOR_API_KEY: 'k',
        EMULATOR_DATA_DIR: '/tmp/x',
        EMULATOR_WEBHOOK_URL: 'http://127.0.0.1:1/hook',
        EMULATOR_FAULTS: '{"apiRateLimit":4,"retryAfter":"none"}',
        EMULATOR_LOG_LEVEL: 'debug',
      }),
    ).toEqual({
      port: 0,
      host: '0.0.0.0',
      apiKey: 'k',
      dataDir: '/tmp/x',
      webhookUrl: 'http://127.0.0.1:1/hook',
      faults: { apiRateLimit: 4, retryAfter: 'none' },
      logLevel: 'debug',
    });
  });

  it('names every bad variable, one line each', () => {
    let error: unknown;
    try {
      loadEmulatorConfig({
        EMULATOR_PORT: 'x',
        EMULATOR_FAULTS: '{"nope":1}',
        EMULATOR_WEBHOOK_URL: 'ftp://a',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EmulatorConfigError);
    expect((error as EmulatorConfigError).problems.map((p) => p.split(':')[0])).toEqual([
      'EMULATOR_PORT',
      'EMULATOR_WEBHOOK_URL',
      'EMULATOR_FAULTS',
    ]);
  });
});
