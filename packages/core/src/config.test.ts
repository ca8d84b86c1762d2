import { ConfigError, loadConfig } from './config/load.js';
import { parseDuration } from './config/parsers.js';
import { keyPrefixFor, redisTargetOf } from './config/redis-target.js';

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = loadConfig({});
    expect(config.PORT).toBe(8080);
    expect(config.HOST).toBe('0.0.0.0');
    expect(config.GCORE_API_URL).toBe('https://api.gcore.com');
    expect(config.GCORE_API_RPS).toBe(4);
    expect(config.FORWARD_CHUNK_SIZE).toBe(10_000_000);
    expect(config.UPLOAD_EXPIRY).toBe(24 * 3_600_000);
    expect(config.FINISHED_UPLOAD_RETENTION).toBe(7 * 24 * 3_600_000);
    expect(config.COMPLETE_ON).toBe('ready');
    expect(config.KEEP_FILES).toBe(false);
    expect(config.IMPORT_PREFLIGHT).toBe(true);
    expect(config.RELAY_API_TOKENS).toEqual([]);
  });

  it('reads the upload quotas: 200 open uploads by default, the byte limits left to the disk unless set', () => {
    expect(loadConfig({})).toMatchObject({ TOOL_MAX_OPEN_UPLOADS: 200 });
    expect(loadConfig({}).TOOL_MAX_OPEN_BYTES).toBeUndefined();
    expect(loadConfig({}).DISK_RESERVE_BYTES).toBeUndefined();
    expect(
      loadConfig({ TOOL_MAX_OPEN_UPLOADS: '0', TOOL_MAX_OPEN_BYTES: '5000000000', DISK_RESERVE_BYTES: '0' }),
    ).toMatchObject({ TOOL_MAX_OPEN_UPLOADS: 0, TOOL_MAX_OPEN_BYTES: 5_000_000_000, DISK_RESERVE_BYTES: 0 });
    for (const name of ['TOOL_MAX_OPEN_UPLOADS', 'TOOL_MAX_OPEN_BYTES', 'DISK_RESERVE_BYTES']) {
      expect(() => loadConfig({ [name]: '-1' })).toThrow(new RegExp(`${name}: expected a whole number`));
      expect(() => loadConfig({ [name]: '1GB' })).toThrow(new RegExp(`${name}: expected a whole number`));
    }
  });

  it('takes CORS_ORIGINS as * or a list of origins, and refuses what is not an origin', () => {
    expect(loadConfig({}).CORS_ORIGINS).toBe('*');
    expect(
      loadConfig({ CORS_ORIGINS: ' https://app.example , http://localhost:3000/ ' }).CORS_ORIGINS,
    ).toEqual(['https://app.example', 'http://localhost:3000']);
    for (const bad of ['app.example', 'https://app.example/upload', 'ftp://app.example']) {
      expect(() => loadConfig({ CORS_ORIGINS: bad })).toThrow(
        /CORS_ORIGINS: expected "\*" or comma-separated origins/,
      );
    }
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

  it('splits relay tokens on commas, drops blanks, and names each entry', () => {
    const a = 'a'.repeat(24);
    const b = 'b'.repeat(30);
    const config = loadConfig({
      RELAY_API_TOKENS: ` ${a}, ci:${b},, `,
      RELAY_ADMIN_TOKENS: `root:${'c'.repeat(24)}`,
    });
    expect(config.RELAY_API_TOKENS).toEqual([
      { name: expect.stringMatching(/^tool-[0-9a-f]{8}$/), token: a, role: 'tool' },
      { name: 'ci', token: b, role: 'tool' },
    ]);
    expect(config.RELAY_ADMIN_TOKENS).toEqual([{ name: 'root', token: 'c'.repeat(24), role: 'admin' }]);
    expect(config.RELAY_OPERATOR_TOKENS).toEqual([]);
  });

  it('refuses a token shorter than 24 characters, naming the variable but never the token', () => {
    const short = 'short-secret-token';
    let message = '';
    try {
      loadConfig({ RELAY_OPERATOR_TOKENS: `ops:${short}` });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/RELAY_OPERATOR_TOKENS/);
    expect(message).toMatch(/"ops" has 18 characters; at least 24/);
    expect(message).not.toContain(short);
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
});

describe('Redis topology', () => {
  const problems = (env: Record<string, string>): string[] => {
    try {
      loadConfig(env);
      return [];
    } catch (error) {
      return (error as ConfigError).problems;
    }
  };

  it('is one server by default, with the prefix as given', () => {
    const config = loadConfig({});
    expect(redisTargetOf(config)).toEqual({ kind: 'single', url: 'redis://127.0.0.1:6379' });
    expect(config.REDIS_PREFIX).toBe('gtr');
    expect(loadConfig({ REDIS_PREFIX: '{gtr}' }).REDIS_PREFIX).toBe('{gtr}');
  });

  it('reads Sentinel: the sentinels (default port 26379), the master name, passwords', () => {
    const config = loadConfig({
      REDIS_SENTINELS: 's1:26380, s2,[::1]:26381',
      REDIS_SENTINEL_NAME: 'mymaster',
      REDIS_SENTINEL_PASSWORD: 'sp',
      REDIS_USERNAME: 'relay',
      REDIS_PASSWORD: 'dp',
    });
    expect(redisTargetOf(config)).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 's1', port: 26_380 },
        { host: 's2', port: 26_379 },
        { host: '::1', port: 26_381 },
      ],
      name: 'mymaster',
      sentinelPassword: 'sp',
      username: 'relay',
      password: 'dp',
    });
    expect(config.REDIS_PREFIX).toBe('gtr');
  });

  it('reads Cluster and puts every key under one hash tag', () => {
    const config = loadConfig({ REDIS_CLUSTER_NODES: 'n1:7000,n2:7001', REDIS_PREFIX: 'relay-a' });
    expect(redisTargetOf(config)).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'n1', port: 7000 },
        { host: 'n2', port: 7001 },
      ],
    });
    expect(config.REDIS_PREFIX).toBe('{relay-a}');
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'n1' }).REDIS_PREFIX).toBe('{gtr}');
    // A prefix that already has a tag is kept.
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'n1', REDIS_PREFIX: 'app{gtr}' }).REDIS_PREFIX).toBe('app{gtr}');
    expect(keyPrefixFor('{x}', true)).toBe('{x}');
  });

  it('refuses more than one topology, Sentinel without a name, bad lists and tags: one line each', () => {
    expect(problems({ REDIS_URL: 'redis://a:6379', REDIS_CLUSTER_NODES: 'n1:7000' })).toEqual([
      'REDIS_URL, REDIS_CLUSTER_NODES: set only one of them (one Redis topology: server, Sentinel or Cluster)',
    ]);
    expect(problems({ REDIS_SENTINELS: 's1:26379' })).toEqual([
      'REDIS_SENTINEL_NAME: required with REDIS_SENTINELS (the master name the sentinels monitor)',
    ]);
    expect(problems({ REDIS_SENTINEL_NAME: 'mymaster' })).toEqual([
      'REDIS_SENTINEL_NAME: only used with REDIS_SENTINELS, which is not set',
    ]);
    expect(problems({ REDIS_CLUSTER_NODES: 'n1:7000,n2:99999' })).toEqual([
      'REDIS_CLUSTER_NODES: expected host:port[,host:port…], got "n2:99999"',
    ]);
    for (const prefix of ['{}', '{a}{b}', 'a{b', 'a}b', 'a b']) {
      expect(problems({ REDIS_PREFIX: prefix })).toEqual([
        'REDIS_PREFIX: letters, digits, _ . - only, with at most one {hash tag}',
      ]);
    }
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

describe('GCORE_VIDEO_DEFAULTS', () => {
  it('is empty unless set, and a validated field object when set', () => {
    expect(loadConfig({}).GCORE_VIDEO_DEFAULTS).toEqual({});
    expect(
      loadConfig({ GCORE_VIDEO_DEFAULTS: '{"auto_transcribe_audio_language":"disable","directory_id":12}' })
        .GCORE_VIDEO_DEFAULTS,
    ).toEqual({ auto_transcribe_audio_language: 'disable', directory_id: 12 });
  });

  it.each([
    ['bad JSON', '{"directory_id":', /^GCORE_VIDEO_DEFAULTS: expected a JSON object .*invalid JSON/],
    [
      'a bad field value',
      '{"auto_transcribe_audio_language":"english"}',
      /^GCORE_VIDEO_DEFAULTS: auto_transcribe_audio_language must be/,
    ],
    [
      'an unknown field',
      '{"dir_id":12}',
      /^GCORE_VIDEO_DEFAULTS: dir_id: not a field that can have a default/,
    ],
  ])('stops the start with one config line for %s', (_label, value, message) => {
    let error: unknown;
    try {
      loadConfig({ GCORE_VIDEO_DEFAULTS: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toHaveLength(1);
    expect((error as ConfigError).problems[0]).toMatch(message);
  });
});
