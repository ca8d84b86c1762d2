import { readFileSync } from 'node:fs';
import type { LuaScript } from './scripts.js';

/*
 * The rules every `.lua` file keeps, checked by each package's script test: a header listing its
 * KEYS (exactly as many as it is registered with) and ARGV; no `${}` (constants come in as ARGV);
 * and Redis Cluster's rule that every key a script touches is declared: each key argument of a
 * `redis.call` is `KEYS[…]`, a local set from one, or a parameter every caller passes one to.
 * (Every key also carries the prefix's hash tag: keys.test.ts checks the builders.)
 */

/** Commands that take no key (PUBLISH takes a channel), and those whose every argument is a key. */
const KEYLESS = new Set(['TIME', 'PUBLISH']);
const ALL_KEYS = new Set(['DEL', 'EXISTS', 'UNLINK', 'TOUCH']);

/** What a script's header declares. */
export interface LuaHeader {
  /** The N of every `KEYS[N]` line, in order. */
  keys: number[];
  argv: boolean;
  output: boolean;
}

/** The header of a script's own text (the `--[[ … ]]` it opens with), or null without one. */
export function parseHeader(text: string): LuaHeader | null {
  const match = /^--\[\[([\s\S]*?)\]\]/.exec(text);
  if (!match) return null;
  const header = match[1]!;
  return {
    keys: [...header.matchAll(/^\s*KEYS\[(\d+)\]/gm)].map((m) => Number(m[1])),
    argv: /^\s*(ARGV\[\d+|No ARGV)/m.test(header),
    output: /^\s*Output:/m.test(header),
  };
}

/** Everything wrong with a script, in words (empty when nothing is). */
export function luaScriptProblems(script: LuaScript): string[] {
  const problems: string[] = [];
  const own = readFileSync(script.url, 'utf8');
  const header = parseHeader(own);
  if (!header) return [`${script.name}: no --[[ header ]]`];
  const expected = Array.from({ length: script.numberOfKeys }, (_, i) => i + 1);
  if (header.keys.join() !== expected.join())
    problems.push(
      `${script.name}: header lists KEYS [${header.keys.join(', ')}], registered with ${script.numberOfKeys}`,
    );
  if (!header.argv)
    problems.push(`${script.name}: header lists no ARGV (write "No ARGV." when it takes none)`);
  if (!header.output) problems.push(`${script.name}: header has no Output`);
  const lua = script.lua;
  if (lua.includes('${')) problems.push(`${script.name}: \${} in the script (pass constants as ARGV)`);
  if (/^--- @include/m.test(lua)) problems.push(`${script.name}: an include was not resolved`);
  return [...problems, ...keyProblems(script.name, stripComments(lua), script.numberOfKeys)];
}

function stripComments(lua: string): string {
  return lua.replace(/--\[\[[\s\S]*?\]\]/g, '').replace(/--[^\n]*/g, '');
}

/** The problems of every key argument of every `redis.call`/`redis.pcall` in `body`. */
export function keyProblems(name: string, body: string, numberOfKeys: number): string[] {
  const problems: string[] = [];
  for (const m of body.matchAll(/KEYS\[(\d+)\]/g)) {
    if (Number(m[1]) > numberOfKeys) problems.push(`${name}: KEYS[${m[1]}] is past its ${numberOfKeys} keys`);
  }
  const isKey = keyTest(body);
  for (const args of callsOf(body, /redis\.p?call\(/g)) {
    const command = /^'([A-Za-z]+)'$/.exec(args[0] ?? '')?.[1]?.toUpperCase();
    if (!command) {
      problems.push(`${name}: redis.call(${args.join(', ')}) names its command by a variable`);
      continue;
    }
    if (KEYLESS.has(command)) continue;
    const keys = ALL_KEYS.has(command) ? args.slice(1) : args.slice(1, 2);
    for (const key of keys)
      if (!isKey(key)) problems.push(`${name}: ${command} on ${key}, not a declared key (KEYS[…])`);
  }
  return problems;
}

/** Whether an expression is a declared key: KEYS[…], a local set from one, or a parameter always given one. */
function keyTest(body: string): (expression: string) => boolean {
  const locals = new Set([...body.matchAll(/local\s+(\w+)\s*=\s*KEYS\[/g)].map((m) => m[1]!));
  const functions = new Map<string, string[]>();
  for (const m of body.matchAll(/function\s+(\w+)\s*\(([^)]*)\)/g))
    functions.set(
      m[1]!,
      m[2]!.split(',').map((p) => p.trim()),
    );
  const checking = new Set<string>();
  const isKey = (expression: string): boolean => {
    const e = expression.trim();
    if (/^KEYS\[.+\]$/.test(e)) return true;
    if (!/^\w+$/.test(e)) return false;
    if (locals.has(e)) return true;
    // A parameter (of every function that has one of this name): each caller passes a key.
    const uses = [...functions].filter(([, params]) => params.includes(e));
    return (
      uses.length > 0 &&
      uses.every(([fn, params]) => {
        const position = params.indexOf(e);
        const id = `${fn}:${position}`;
        if (checking.has(id)) return true;
        checking.add(id);
        const calls = callsOf(body, new RegExp(`(?<!function\\s+)\\b${fn}\\(`, 'g'));
        // A function nobody calls here (a fragment's) touches nothing.
        const ok = calls.every((args) => isKey(args[position] ?? ''));
        checking.delete(id);
        return ok;
      })
    );
  };
  return isKey;
}

/** The top-level arguments of every call `opening` starts (it matches up to the open parenthesis). */
function callsOf(body: string, opening: RegExp): string[][] {
  const calls: string[][] = [];
  for (const m of body.matchAll(opening)) {
    const args: string[] = [];
    let depth = 0;
    let quote: string | null = null;
    let current = '';
    for (let i = m.index + m[0].length; i < body.length; i++) {
      const c = body[i]!;
      if (quote) {
        current += c;
        if (c === '\\') current += body[++i] ?? '';
        else if (c === quote) quote = null;
        continue;
      }
      if (c === "'" || c === '"') quote = c;
      else if (c === '(' || c === '{' || c === '[') depth++;
      else if (c === ')' || c === '}' || c === ']') {
        if (depth === 0) break;
        depth--;
      } else if (c === ',' && depth === 0) {
        args.push(current.trim());
        current = '';
        continue;
      }
      current += c;
    }
    args.push(current.trim());
    calls.push(args);
  }
  return calls;
}
