import { readdirSync } from 'node:fs';
import { CORE_SCRIPTS } from '@gtr/core';
import { luaScriptProblems } from '@gtr/core/testing';
import { RELAY_LUA_DIR, RELAY_SCRIPTS } from './lua-scripts.js';

describe('relay Lua scripts', () => {
  it.each(RELAY_SCRIPTS.map((script) => [script.name, script]))(
    '%s declares every key it touches in a header that matches its registration',
    (_, script) => {
      expect(luaScriptProblems(script)).toEqual([]);
    },
  );

  it('registers every .lua file of src/lua, each under its own name', () => {
    const files = readdirSync(RELAY_LUA_DIR)
      .filter((f) => f.endsWith('.lua'))
      .map((f) => new URL(f, RELAY_LUA_DIR).href)
      .sort();
    expect(RELAY_SCRIPTS.map((s) => s.url.href).sort()).toEqual(files);
    const names = [...RELAY_SCRIPTS, ...CORE_SCRIPTS].map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
  });
});
