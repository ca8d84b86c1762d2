import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '@gtr/cli';
import { captureIo } from '@gtr/cli/testing';
import { createRedis } from '@gtr/core';
import { type RedisServerHandle, startRedisServer, testPrefix, testRedisUrl } from '@gtr/core/testing';
import { GcoreClient } from '@gtr/gcore';
import { type Emulator, startEmulator } from '@gtr/gcore-emulator';
import { ROOT } from './support/processes.js';

// `pnpm relay doctor` in-process against the emulator and throw-away redis-servers (appendonly yes
// as startRedisServer starts them, or switched off), with exactly the environment given.

let tmp: string;
let emulator: Emulator;
let redis: RedisServerHandle;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'doctor-'));
  emulator = await startEmulator({ port: 0 });
  redis = await startRedisServer();
});
afterAll(async () => {
  await emulator.close();
  await redis.stop();
  await fs.rm(redis.dir, { recursive: true, force: true });
  await fs.rm(tmp, { recursive: true, force: true });
});

function baseEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    HOME: tmp,
    DATA_DIR: path.join(tmp, 'data'),
    REDIS_URL: redis.url,
    REDIS_PREFIX: testPrefix(),
    GCORE_API_URL: emulator.url,
    GCORE_API_KEY: emulator.apiKey,
    ...overrides,
  };
}

async function doctor(
  args: string[],
  env: Record<string, string>,
  now?: () => number,
): Promise<{ code: number; out: string; err: string; lines: string[] }> {
  const cap = captureIo({ env, cwd: tmp, pollIntervalMs: 20 });
  if (now) cap.io.now = now;
  const code = await runCli(['doctor', ...args], cap.io);
  const out = cap.stdout();
  return { code, out, err: cap.stderr(), lines: out.split('\n').filter((l) => l.trim() !== '') };
}

const line = (lines: string[], name: string): string => {
  const found = lines.find((l) => l.slice(2).startsWith(`${name}:`));
  if (!found) throw new Error(`no "${name}" line in:\n${lines.join('\n')}`);
  return found;
};

describe('pnpm relay doctor', () => {
  it('passes, every line ✓, against the emulator and a Redis with AOF and noeviction', async () => {
    // An existing video, so that the upload servers are asked for and checked.
    const client = new GcoreClient({ baseUrl: emulator.url, apiKey: emulator.apiKey });
    await client.createVideo({ name: 'already there' });
    const before = emulator.videos().length;

    const { code, out, err, lines } = await doctor([], baseEnv());
    expect(err).toBe('');
    expect(code).toBe(0);
    for (const l of lines) expect(l).toMatch(/^✓ /);
    for (const name of [
      'config',
      'redis',
      'redis write',
      'redis appendonly',
      'redis maxmemory-policy',
      'disk',
      'gcore api host',
      'gcore key',
      'gcore upload servers',
      'clock',
    ]) {
      line(lines, name);
    }
    expect(line(lines, 'redis appendonly')).toContain('appendonly yes');
    expect(line(lines, 'redis maxmemory-policy')).toContain('noeviction');
    expect(line(lines, 'gcore upload servers')).toMatch(/1 of 1 reachable/);
    expect(lines.at(-1)).toMatch(/^✓ doctor: 10 checks passed$/);
    // Never the key; nothing created on Gcore by the default mode.
    expect(out).not.toContain(emulator.apiKey);
    expect(emulator.videos()).toHaveLength(before);
  });

  it('fails with a clear line for a wrong Gcore key, without printing it', async () => {
    const wrongKey = 'wrong-key-0123456789';
    const { code, out, lines } = await doctor([], baseEnv({ GCORE_API_KEY: wrongKey }));
    expect(code).toBe(1);
    expect(line(lines, 'gcore key')).toMatch(
      /^✗ gcore key: refused by .* \(401 unauthorized\): GCORE_API_KEY is wrong/,
    );
    expect(line(lines, 'gcore upload servers')).toMatch(/^– /);
    expect(out).not.toContain(wrongKey);
    expect(lines.at(-1)).toMatch(/^✗ doctor: 1 of \d+ checks failed \(gcore key\)/);
  });

  it('fails the appendonly check for a Redis without AOF', async () => {
    const noAof = await startRedisServer();
    try {
      const admin = createRedis(noAof.url);
      await admin.config('SET', 'appendonly', 'no');
      admin.disconnect();
      const { code, lines } = await doctor([], baseEnv({ REDIS_URL: noAof.url }));
      expect(code).toBe(1);
      expect(line(lines, 'redis appendonly')).toMatch(
        /^✗ redis appendonly: appendonly no .*set "appendonly yes"/,
      );
      expect(line(lines, 'redis write')).toMatch(/^✓ /);
      expect(lines.at(-1)).toMatch(/\(redis appendonly\)/);
    } finally {
      await noAof.stop();
      await fs.rm(noAof.dir, { recursive: true, force: true });
    }
  });

  it('fails the maxmemory-policy check for an evicting Redis, and an unreachable Redis', async () => {
    const evicting = await startRedisServer();
    try {
      const admin = createRedis(evicting.url);
      await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
      admin.disconnect();
      const { code, lines } = await doctor([], baseEnv({ REDIS_URL: evicting.url }));
      expect(code).toBe(1);
      expect(line(lines, 'redis maxmemory-policy')).toMatch(/^✗ .*allkeys-lru.*noeviction/);
    } finally {
      await evicting.stop();
    }
    // Stopped: nothing listens on its port any more.
    const { code, lines } = await doctor([], baseEnv({ REDIS_URL: evicting.url }));
    expect(code).toBe(1);
    expect(line(lines, 'redis')).toMatch(/^✗ redis: cannot reach redis:\/\/127\.0\.0\.1:\d+/);
    expect(line(lines, 'redis write')).toMatch(/^– /);
    await fs.rm(evicting.dir, { recursive: true, force: true });
  });

  it('fails the disk check when less than --min-free is free under DATA_DIR', async () => {
    const { code, lines } = await doctor(['--min-free', '1000000GB'], baseEnv());
    expect(code).toBe(1);
    expect(line(lines, 'disk')).toMatch(/^✗ disk: .* free under .*1000 TB wanted \(--min-free\)/);
    expect(lines.at(-1)).toMatch(/\(disk\)/);
  });

  it('fails the config check with the bad variable and its message', async () => {
    const { code, lines } = await doctor([], baseEnv({ FORWARD_CONCURRENCY: 'lots' }));
    expect(code).toBe(1);
    expect(lines[0]).toMatch(/^✗ config: invalid environment: FORWARD_CONCURRENCY: expected a whole number/);
    expect(lines).toHaveLength(2);
  });

  it('skips the upload servers when the account has no video, and warns about a skewed clock', async () => {
    const empty = await startEmulator({ port: 0 });
    try {
      const { code, lines } = await doctor(
        [],
        baseEnv({ GCORE_API_URL: empty.url, GCORE_API_KEY: empty.apiKey }),
        () => Date.now() + 90_000,
      );
      expect(code).toBe(0);
      expect(line(lines, 'gcore upload servers')).toMatch(/^– .*no video.*--video-id/);
      expect(line(lines, 'clock')).toMatch(/^! clock: this machine's clock is (89|90|91) s ahead of Gcore's/);
      expect(lines.at(-1)).toMatch(/^✓ doctor: 9 checks passed \(1 warning, 1 skipped\)$/);
    } finally {
      await empty.close();
    }
  });

  it('--live uploads 1 MB through the forwarder, sees a status and deletes the video', async () => {
    // The emulator's upload server is plain HTTP on loopback, as the worker allows it only so.
    const { code, lines } = await doctor(['--live'], baseEnv({ GCORE_ALLOW_INSECURE_UPLOAD: 'true' }));
    expect(code).toBe(0);
    expect(line(lines, 'live upload')).toMatch(
      /^✓ live upload: 1\.0 MB sent with tus-js-client .*status "(pending|viewable|ready)"/,
    );
    expect(line(lines, 'live cleanup')).toMatch(/^✓ live cleanup: video \d+ "relay doctor .*" deleted/);
    const made = emulator.videos().filter((v) => v.name.startsWith('relay doctor '));
    expect(made).toHaveLength(1);
    expect(made[0]).toMatchObject({ bytesReceived: 1_000_000, tusUploads: 1, deleted: true });
    expect(made[0]!.statusHistory.length).toBeGreaterThan(1);
  });

  it('leaves no key behind in the Redis it wrote to', async () => {
    const prefix = testPrefix();
    const { lines } = await doctor([], baseEnv({ REDIS_URL: testRedisUrl(), REDIS_PREFIX: prefix }));
    // The shared test Redis may run without AOF; only the round trip matters here.
    expect(line(lines, 'redis write')).toMatch(new RegExp(`^✓ redis write: .*under prefix "${prefix}"`));
    const client = createRedis(testRedisUrl());
    try {
      expect(await client.keys(`${prefix}:*`)).toEqual([]);
    } finally {
      client.disconnect();
    }
  });
});

describe('pnpm relay doctor stays out of the other commands', () => {
  it('is the only CLI module that imports @gtr/core or @gtr/gcore, and only through a dynamic import', async () => {
    const src = path.join(ROOT, 'packages/cli/src');
    const files = (await fs.readdir(src, { recursive: true }))
      .map(String)
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'testing.ts');
    const importing: string[] = [];
    for (const file of files) {
      const text = await fs.readFile(path.join(src, file), 'utf8');
      if (/from '@gtr\/(core|gcore)'/.test(text)) importing.push(file);
    }
    // doctor.ts and its checks (doctor/, one per file); nothing else reaches them but the command.
    // Other modules may take only @gtr/core's timers (`@gtr/core/async`: no Redis behind it).
    expect(importing.length).toBeGreaterThan(0);
    for (const file of files) {
      const text = await fs.readFile(path.join(src, file), 'utf8');
      const subpaths = [...text.matchAll(/from '@gtr\/core\/([\w-]+)'/g)].map((m) => m[1]);
      expect({ file, subpaths: subpaths.filter((s) => s !== 'async') }).toEqual({ file, subpaths: [] });
    }
    expect(importing.filter((f) => f !== 'doctor.ts' && !f.startsWith(`doctor${path.sep}`))).toEqual([]);
    for (const file of files.filter((f) => f !== 'doctor.ts' && !f.startsWith(`doctor${path.sep}`))) {
      const text = await fs.readFile(path.join(src, file), 'utf8');
      expect({ file, imports: /^import .*'(\.\.?\/)+doctor[./]/m.test(text) }).toEqual({
        file,
        imports: false,
      });
    }
    const command = await fs.readFile(path.join(src, 'commands/doctor.ts'), 'utf8');
    expect(command).toContain("await import('../doctor.js')");
    expect(command).not.toMatch(/^import .*'\.\.\/doctor\.js'/m);
  });

  it('prints its usage with --help and refuses a bad --min-free', async () => {
    const help = await doctor(['--help'], {});
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^Usage: pnpm relay doctor/);
    const bad = await doctor(['--min-free', 'lots'], {});
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--min-free must be a size/);
  });
});
