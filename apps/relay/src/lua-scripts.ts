import { LuaScript } from '@gtr/core';

/** Where this package's `.lua` files are, from `src/` and from `dist/` alike (see core's scripts.ts). */
export const RELAY_LUA_DIR = new URL('../src/lua/', import.meta.url);

const script = <Result>(file: string, numberOfKeys: number) =>
  new LuaScript<Result>(
    `gtr_${file.replaceAll('-', '_')}`,
    new URL(`${file}.lua`, RELAY_LUA_DIR),
    numberOfKeys,
  );

/** `[status, count, bytes]` (see quota-reserve.lua). */
export type QuotaAnswer = [number, number, number];

export const QUOTA_RESERVE = script<QuotaAnswer>('quota-reserve', 3);
export const QUOTA_DECLARE = script<QuotaAnswer>('quota-declare', 3);
export const QUOTA_RELEASE = script<number>('quota-release', 3);
export const QUOTA_ADOPT = script<number>('quota-adopt', 3);
export const QUOTA_RELEASE_STALE = script<number>('quota-release-stale', 3);
export const QUOTA_RECOUNT = script<number>('quota-recount', 3);
export const CLAIM_REPLACE = script<number>('claim-replace', 1);
export const CLAIM_SETTLE = script<number>('claim-settle', 1);

/** Every script of this package (the header test reads each). */
export const RELAY_SCRIPTS: readonly LuaScript[] = [
  QUOTA_RESERVE,
  QUOTA_DECLARE,
  QUOTA_RELEASE,
  QUOTA_ADOPT,
  QUOTA_RELEASE_STALE,
  QUOTA_RECOUNT,
  CLAIM_REPLACE,
  CLAIM_SETTLE,
];
