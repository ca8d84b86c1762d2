import { readFileSync } from 'node:fs';
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './redis.js';

/*
 * Lua scripts as files, as BullMQ keeps them: a package's scripts are `src/lua/*.lua` (shared
 * fragments in `src/lua/includes/`, pulled in by a `--- @include "includes/<name>"` line), each
 * opening with a header that lists its KEYS and ARGV. They are read from the package's `src/`
 * whether the code runs from `src/` (Jest) or from `dist/` (tsc does not copy them): a file at
 * the top of `src/` or `dist/` finds them at `../src/lua/`. ioredis `defineCommand` loads each once
 * per connection and runs it with EVALSHA (EVAL again after a NOSCRIPT).
 */

/** An argument a script takes in ARGV. */
export type LuaArg = string | number | Buffer;

const INCLUDE = /^--- @include "([^"]+)"[ \t]*(?:\n|$)/gm;

/** A script's text with its includes pulled in (each fragment once, however often it is named). */
export function readLua(url: URL, included = new Set<string>()): string {
  return readFileSync(url, 'utf8').replace(INCLUDE, (_, name: string) => {
    const fragment = new URL(`${name}.lua`, url);
    if (included.has(fragment.href)) return '';
    included.add(fragment.href);
    return `${readLua(fragment, included).trimEnd()}\n`;
  });
}

/**
 * One Lua script, its keys counted: `run` and `queue` are the typed way to call it. It is defined
 * on a connection (`defineCommand`) the first time it runs there.
 */
export class LuaScript<Result = unknown> {
  private text: string | null = null;

  constructor(
    /** The command name on the connection (prefixed `gtr`, so it never shadows a Redis command). */
    readonly name: string,
    /** The `.lua` file. */
    readonly url: URL,
    /** How many of its arguments are KEYS: every key it touches (a cluster checks them). */
    readonly numberOfKeys: number,
  ) {}

  /** The script as sent to Redis (includes pulled in). */
  get lua(): string {
    this.text ??= readLua(this.url);
    return this.text;
  }

  /** Runs the script: `keys` must be exactly its KEYS. */
  async run(redis: RedisClient, keys: readonly string[], args: readonly LuaArg[] = []): Promise<Result> {
    defineScripts(redis, [this]);
    return (await this.command(redis)(...this.argsOf(keys, args))) as Result;
  }

  /** Adds a call to a pipeline or MULTI of a connection the script was defined on (see defineScripts). */
  queue(pipeline: ChainableCommander, keys: readonly string[], args: readonly LuaArg[] = []): void {
    const command = (pipeline as unknown as Record<string, unknown>)[this.name];
    if (typeof command !== 'function')
      throw new Error(
        `script ${this.name} is not defined on the pipeline's connection (defineScripts first)`,
      );
    (command as (...a: LuaArg[]) => unknown).apply(pipeline, this.argsOf(keys, args));
  }

  private argsOf(keys: readonly string[], args: readonly LuaArg[]): LuaArg[] {
    if (keys.length !== this.numberOfKeys)
      throw new Error(`script ${this.name} takes ${this.numberOfKeys} keys, got ${keys.length}`);
    return [...keys, ...args];
  }

  private command(redis: RedisClient): (...args: LuaArg[]) => Promise<unknown> {
    const command = (redis as unknown as Record<string, (...args: LuaArg[]) => Promise<unknown>>)[this.name];
    return command!.bind(redis);
  }
}

/**
 * Defines `scripts` on the connection (a Redis or a Cluster), each once: pipelines made from it
 * afterwards have them too. Idempotent.
 */
export function defineScripts(redis: RedisClient, scripts: readonly LuaScript[]): void {
  const defined = (redis as unknown as { scriptsSet: Record<string, unknown> }).scriptsSet;
  for (const script of scripts) {
    if (defined[script.name]) continue;
    redis.defineCommand(script.name, { numberOfKeys: script.numberOfKeys, lua: script.lua });
  }
}
