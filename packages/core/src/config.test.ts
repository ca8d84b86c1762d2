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

  it('keeps callbacks to public addresses unless told otherwise', () => {
    const config = loadConfig({});
    expect(config.CALLBACK_ALLOW_PRIVATE).toBe(false);
    expect(config.CALLBACK_ALLOWED_HOSTS).toEqual([]);
    expect(loadConfig({ CALLBACK_ALLOW_PRIVATE: 'true' }).CALLBACK_ALLOW_PRIVATE).toBe(true);
  });

  it('reads CALLBACK_ALLOWED_HOSTS as host names or host:port, normalized', () => {
    expect(
      loadConfig({ CALLBACK_ALLOWED_HOSTS: ' Hooks.Internal, tools.lan:8443,,[::1]:9000, 127.1 ,fd00::5' })
        .CALLBACK_ALLOWED_HOSTS,
    ).toEqual([
      { hostname: 'hooks.internal', port: null },
      { hostname: 'tools.lan', port: 8443 },
      { hostname: '[::1]', port: 9000 },
      { hostname: '127.0.0.1', port: null },
      { hostname: '[fd00::5]', port: null },
    ]);
  });

  it.each(['http://hooks.internal', 'hooks.internal/path', 'user@hooks', 'hooks:99999', 'a b', 'hooks:'])(
    'refuses %s in CALLBACK_ALLOWED_HOSTS, naming the entry',
    (entry) => {
      let error: unknown;
      try {
        loadConfig({ CALLBACK_ALLOWED_HOSTS: `ok.example,${entry}` });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual([
        `CALLBACK_ALLOWED_HOSTS: expected host names or host:port, got "${entry}"`,
      ]);
    },
  );

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

describe('.env', () => {
  it('is read from the working directory, without overriding what is already set', async () => {
    const fs = await import('node:fs/promises');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dotenv-'));
    const cwd = process.cwd();
    const saved = { PORT: process.env.PORT, LOG_LEVEL: process.env.LOG_LEVEL };
    try {
      await fs.writeFile(path.join(dir, '.env'), 'PORT=9191\nLOG_LEVEL=warn\n');
      process.chdir(dir);
      delete process.env.PORT;
      process.env.LOG_LEVEL = 'error';
      const config = loadConfig();
      expect(config.PORT).toBe(9191);
      expect(config.LOG_LEVEL).toBe('error');
    } finally {
      process.chdir(cwd);
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
