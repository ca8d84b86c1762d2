import { ConfigError, loadConfig } from './config/load.js';

describe('PUBLIC_URL and AUTH_FAILURE_LIMIT', () => {
  it('are unset and 20 by default', () => {
    const config = loadConfig({});
    expect(config.PUBLIC_URL).toBeUndefined();
    expect(config.AUTH_FAILURE_LIMIT).toBe(20);
  });

  it('take an http(s) base URL, without a trailing slash, and a whole number', () => {
    const config = loadConfig({ PUBLIC_URL: 'https://relay.example.com/base/', AUTH_FAILURE_LIMIT: '0' });
    expect(config.PUBLIC_URL).toBe('https://relay.example.com/base');
    expect(config.AUTH_FAILURE_LIMIT).toBe(0);
    expect(loadConfig({ PUBLIC_URL: 'http://10.0.0.5:8080' }).PUBLIC_URL).toBe('http://10.0.0.5:8080');
  });

  it.each([
    'relay.example.com',
    'ftp://relay.example.com',
    'https://relay.example.com/?a=1',
    'https://u:p@relay.example.com',
  ])('refuse PUBLIC_URL=%s', (value) => {
    expect(() => loadConfig({ PUBLIC_URL: value })).toThrow(ConfigError);
  });

  it('refuses a negative AUTH_FAILURE_LIMIT', () => {
    expect(() => loadConfig({ AUTH_FAILURE_LIMIT: '-1' })).toThrow(/AUTH_FAILURE_LIMIT/);
  });
});
