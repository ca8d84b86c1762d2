import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Redis } from 'ioredis';
import { luaScriptProblems } from './lua-check.js';
import { CORE_LUA_DIR, CORE_SCRIPTS } from './lua-scripts.js';
import { createRedis } from './redis.js';
import { defineScripts, LuaScript, readLua } from './scripts.js';
import { deleteKeys, startRedisServer, testPrefix, testRedis } from './testing.js';

/** A directory of throw-away `.lua` files, as a file URL ending in `/`. */
function luaDir(files: Record<string, string>): URL {
  const dir = mkdtempSync(path.join(tmpdir(), 'lua-'));
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(path.join(dir, `${name}.lua`), text);
  }
  return pathToFileURL(`${dir}/`);
}

const HEADER = `--[[
  Input:
    KEYS[1] a key

    ARGV[1] a value

  Output:
    what it answers
]]
`;

describe('core Lua scripts', () => {
  it.each(CORE_SCRIPTS.map((script) => [script.name, script]))(
    '%s declares every key it touches in a header that matches its registration',
    (_, script) => {
      expect(luaScriptProblems(script)).toEqual([]);
    },
  );

  it('registers every .lua file of src/lua, each under its own name', () => {
    const files = readdirSync(CORE_LUA_DIR)
      .filter((f) => f.endsWith('.lua'))
      .map((f) => new URL(f, CORE_LUA_DIR).href)
      .sort();
    expect(CORE_SCRIPTS.map((s) => s.url.href).sort()).toEqual(files);
    expect(new Set(CORE_SCRIPTS.map((s) => s.name)).size).toBe(CORE_SCRIPTS.length);
  });
});

describe('the Lua header check', () => {
  const problemsOf = (body: string, numberOfKeys = 1, header = HEADER) => {
    const dir = luaDir({ s: header + body });
    return luaScriptProblems(new LuaScript('gtr_test_s', new URL('s.lua', dir), numberOfKeys));
  };

  it('passes keys from KEYS, from a local set from KEYS and from a parameter every caller gives one', () => {
    const body = `local k = KEYS[1]
local function touch(key, v) redis.call('SET', key, v) end
touch(KEYS[1], ARGV[1])
redis.call('GET', k)
redis.call('DEL', KEYS[1], k)
redis.call('PUBLISH', ARGV[1], 'x')
return 1
`;
    expect(problemsOf(body)).toEqual([]);
  });

  it('finds a key not in KEYS, a caller passing one, a KEYS index past the count and a placeholder', () => {
    const body = `local function touch(key) redis.call('SET', key, 1) end
touch(KEYS[1])
touch('gtr:other')
redis.call('GET', 'gtr:' .. ARGV[1])
redis.call('DEL', KEYS[1], ARGV[1])
redis.call('GET', KEYS[2])
return '\${x}'
`;
    expect(problemsOf(body)).toEqual([
      expect.stringContaining('(pass constants as ARGV)'),
      expect.stringContaining('KEYS[2] is past its 1 keys'),
      expect.stringContaining('SET on key'),
      expect.stringContaining("GET on 'gtr:' .. ARGV[1]"),
      expect.stringContaining('DEL on ARGV[1]'),
    ]);
  });

  it('finds a header whose KEYS do not match the registration, or that lacks ARGV or Output', () => {
    expect(problemsOf("return redis.call('GET', KEYS[1])", 2)).toEqual([
      expect.stringContaining('header lists KEYS [1], registered with 2'),
    ]);
    expect(problemsOf('return 1', 0, '--[[\n  Input:\n    nothing\n]]\n')).toEqual([
      expect.stringContaining('no ARGV'),
      expect.stringContaining('no Output'),
    ]);
    expect(problemsOf('return 1', 0, '')).toEqual([expect.stringContaining('no --[[ header ]]')]);
  });
});

describe('readLua', () => {
  it('pulls each include in once, relative to the including file, includes of includes too', () => {
    const dir = luaDir({
      main: '--- @include "parts/a"\n--- @include "parts/b"\nreturn a() + b()\n',
    });
    const parts = new URL('parts/', dir);
    mkdirSync(parts);
    writeFileSync(new URL('a.lua', parts), 'local function a() return 1 end\n');
    writeFileSync(new URL('b.lua', parts), '--- @include "a"\nlocal function b() return a() end\n');
    expect(readLua(new URL('main.lua', dir))).toBe(
      'local function a() return 1 end\nlocal function b() return a() end\nreturn a() + b()\n',
    );
  });
});

describe('LuaScript', () => {
  let redis: Redis;
  let prefix: string;
  const dir = luaDir({
    echo: `${HEADER}redis.call('SET', KEYS[1], ARGV[1])\nreturn redis.call('GET', KEYS[1])\n`,
  });

  beforeAll(() => {
    redis = testRedis();
  });
  beforeEach(() => {
    prefix = testPrefix();
  });
  afterEach(() => deleteKeys(redis, prefix));
  afterAll(() => redis.quit());

  it('defines itself once per connection and runs by EVALSHA, loading itself again after NOSCRIPT', async () => {
    const echo = new LuaScript<string>('gtr_test_echo', new URL('echo.lua', dir), 1);
    const sha = createHash('sha1').update(echo.lua).digest('hex');
    const define = redis.defineCommand;
    let defined = 0;
    redis.defineCommand = (...args: Parameters<Redis['defineCommand']>) => {
      defined++;
      define.apply(redis, args);
    };
    try {
      expect(await echo.run(redis, [`${prefix}:a`], ['one'])).toBe('one');
      expect(await redis.script('EXISTS', sha)).toEqual([1]);
      expect(await echo.run(redis, [`${prefix}:a`], ['two'])).toBe('two');
      defineScripts(redis, [echo]);
      expect(defined).toBe(1);
    } finally {
      redis.defineCommand = define;
    }
  });

  it('loads itself again after NOSCRIPT (a Redis restarted, or its scripts flushed)', async () => {
    // A Redis of its own: SCRIPT FLUSH on the shared one would hit every suite running beside it.
    const server = await startRedisServer();
    const own = createRedis(server.url, { role: 'client' });
    try {
      const echo = new LuaScript<string>('gtr_test_echo_flushed', new URL('echo.lua', dir), 1);
      expect(await echo.run(own, ['a'], ['one'])).toBe('one');
      await own.script('FLUSH');
      expect(await echo.run(own, ['a'], ['two'])).toBe('two');
    } finally {
      await own.quit();
      await server.stop();
    }
  });

  it('queues into a pipeline of a connection it was defined on, and refuses the wrong number of keys', async () => {
    const echo = new LuaScript<string>('gtr_test_echo_pipeline', new URL('echo.lua', dir), 1);
    defineScripts(redis, [echo]);
    const pipeline = redis.pipeline();
    echo.queue(pipeline, [`${prefix}:a`], ['x']);
    echo.queue(pipeline, [`${prefix}:b`], ['y']);
    expect(await pipeline.exec()).toEqual([
      [null, 'x'],
      [null, 'y'],
    ]);
    await expect(echo.run(redis, [`${prefix}:a`, `${prefix}:b`], ['z'])).rejects.toThrow(
      'takes 1 keys, got 2',
    );
  });
});
