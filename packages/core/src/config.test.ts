import { ConfigError, loadConfig, parseDuration } from './config.js';

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = loadConfig({});
    expect(config.PORT).toBe(8080);
    expect(config.HOST).toBe('0.0.0.0');
    expect(config.GCORE_API_URL).toBe('https://api.gcore.com');
    expect(config.GCORE_API_RPS).toBe(4);
    expect(config.FORWARD_CHUNK_SIZE).toBe(10_000_000);
    expect(config.UPLOAD_EXPIRY).toBe(24 * 3_600_000);
    expect(config.COMPLETE_ON).toBe('ready');
    expect(config.KEEP_FILES).toBe(false);
    expect(config.IMPORT_PREFLIGHT).toBe(true);
    expect(config.RELAY_API_TOKENS).toEqual([]);
  });

  it('names every bad variable, one line each', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', COMPLETE_ON: 'soon', KEEP_FILES: 'maybe' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).toMatch(/^PORT: /m);
    expect(problems.join('\n')).toMatch(/^COMPLETE_ON: /m);
    expect(problems.join('\n')).toMatch(/^KEEP_FILES: /m);
  });

  it('splits relay tokens on commas and drops blanks', () => {
    expect(loadConfig({ RELAY_API_TOKENS: ' a, b,,c ' }).RELAY_API_TOKENS).toEqual(['a', 'b', 'c']);
  });
});

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['90s', 90_000],
    ['15m', 900_000],
    ['24h', 86_400_000],
    ['7d', 604_800_000],
    ['250', 250],
  ])('reads %s as %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it('refuses text it cannot read', () => {
    expect(parseDuration('tomorrow')).toBeUndefined();
  });
});
