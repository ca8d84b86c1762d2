import { jobWords, matchesWords, searchWords } from '@gtr/contract';
import { batchKeys } from '../keys.js';
import { MAX_SEQ, SEARCH_EXPAND } from '../lua-scripts.js';
import type { JobContext } from './context.js';
import { decode, readHashes } from './record.js';
import type { JobKind, JobRecord, JobState } from './types.js';

/*
 * Listing jobs, newest first, by any of their filters and the words of `q`: every job index is a
 * sorted set scored by the job's creation sequence, so a cursor is exact while jobs change state,
 * and the search index holds one `word \0 inverted seq \0 id` entry per word of a job.
 */

export interface ListQuery {
  state?: JobState | undefined;
  kind?: JobKind | undefined;
  /** Only this owner's jobs (a tool's view). */
  owner?: string | undefined;
  /** Only this batch's jobs. */
  batch?: string | undefined;
  /** Every word of it begins a word of the job's name, filename, origin URL, id or video id (see search.ts). */
  q?: string | undefined;
  /** Only jobs created at or after this epoch ms. */
  since?: number | undefined;
  /** Default 50, at most 500. */
  limit?: number | undefined;
  cursor?: string | null | undefined;
}

export interface JobPage {
  items: JobRecord[];
  /**
   * The cursor of the next page, or null at the end. A page may hold fewer than `limit` items
   * while `next` is set: a request looks at a bounded number of candidates (see SCAN_BUDGET).
   */
  next: string | null;
}

/** Most candidate jobs one list request reads before it answers (with a cursor to go on from). */
export const SCAN_BUDGET = 2_000;

/** Most words a query word's prefix is expanded to (each read as its own range of the index). */
const MAX_EXPANSION = 32;
/** A prefix of more words is read as one range when it has at most this many entries. */
const PREFIX_READ_LIMIT = 5_000;

/** A source of candidate jobs for a list: newest first, strictly below `before` (a sequence). */
interface Candidates {
  /** How many jobs it may yield (an upper bound is fine): the smallest source is read. */
  estimate: number;
  read(
    before: number | null,
    count: number,
  ): Promise<{ items: Array<{ id: string; seq: number }>; more: boolean }>;
}

/**
 * Newest first, every filter applied; `cursor` is the `next` of the previous page (a job's
 * creation sequence, so a page never shifts while jobs change state). The smallest index among
 * the filters is read, the other filters are checked on what it yields.
 */
export async function listJobs(ctx: JobContext, query: ListQuery = {}): Promise<JobPage> {
  const limit = Math.min(Math.max(query.limit ?? 50, 1), 500);
  const words = query.q ? searchWords(query.q) : [];
  const source = await candidates(ctx, query, words);
  // Words are checked against the ones the job is indexed by (the same as the index's answer).
  const matches = (record: JobRecord, indexed: string | undefined) =>
    (!query.state || record.state === query.state) &&
    (!query.kind || record.kind === query.kind) &&
    (query.owner === undefined || record.owner === query.owner) &&
    (query.batch === undefined || record.batch === query.batch) &&
    (words.length === 0 || matchesWords(indexedWords(record, indexed), words));
  const batch = words.length > 0 || filterCount(query) > 1 ? Math.max(limit * 2, 100) : limit + 1;
  let before = query.cursor ? Number(query.cursor) : null;
  const items: JobRecord[] = [];
  let lastSeq: number | null = null;
  let scanned = 0;
  for (;;) {
    const { items: page, more } = await source.read(before, batch);
    if (page.length === 0) return { items, next: null };
    const hashes = await readHashes(
      ctx,
      page.map((c) => c.id),
    );
    const byId = new Map(hashes.map((h) => [JSON.parse(h.id ?? 'null') as string, h]));
    for (const candidate of page) {
      const hash = byId.get(candidate.id);
      if (!hash) continue;
      const record = decode(hash);
      // Newest first: once one is older than `since`, so is every later one.
      if (query.since !== undefined && Date.parse(record.created_at) < query.since)
        return { items, next: null };
      if (!matches(record, hash.search)) continue;
      if (items.length === limit) return { items, next: String(lastSeq) };
      items.push(record);
      lastSeq = candidate.seq;
    }
    if (!more) return { items, next: null };
    before = page[page.length - 1]!.seq;
    scanned += page.length;
    if (scanned >= SCAN_BUDGET) return { items, next: String(before) };
  }
}

/** The narrowest source of candidates for a query: an index of one filter, or a query word's. */
async function candidates(ctx: JobContext, query: ListQuery, words: readonly string[]): Promise<Candidates> {
  const sets = [
    query.state ? ctx.keys.state(query.state) : null,
    query.kind ? ctx.keys.kind(query.kind) : null,
    query.owner !== undefined ? ctx.keys.owner(query.owner) : null,
    query.batch !== undefined ? batchKeys(ctx.prefix, query.batch).jobs : null,
  ].filter((key): key is string => key !== null);
  if (sets.length === 0) sets.push(ctx.keys.all);
  const pipeline = ctx.redis.pipeline();
  for (const key of sets) pipeline.zcard(key);
  for (const word of words) pipeline.zlexcount(ctx.keys.search, `[${word}`, lexEnd(word));
  const sizes = ((await pipeline.exec()) ?? []).map(([error, n]) => {
    if (error) throw error;
    return Number(n);
  });
  const smallestSet = sets.reduce((best, key, i) => (sizes[i]! < sizes[sets.indexOf(best)]! ? key : best));
  const setSize = sizes[sets.indexOf(smallestSet)]!;
  const wordSizes = sizes.slice(sets.length);
  const rarest = words.reduce<number>(
    (best, _, i) => (best < 0 || wordSizes[i]! < wordSizes[best]! ? i : best),
    -1,
  );
  if (rarest >= 0 && wordSizes[rarest]! < setSize) {
    const source = await wordSource(ctx, words[rarest]!, wordSizes[rarest]!);
    if (source) return source;
  }
  return setSource(ctx, smallestSet, setSize);
}

function setSource(ctx: JobContext, key: string, estimate: number): Candidates {
  return {
    estimate,
    read: async (before, count) => {
      const page = await ctx.redis.zrevrangebyscore(
        key,
        before === null ? '+inf' : `(${before}`,
        '-inf',
        'WITHSCORES',
        'LIMIT',
        0,
        count,
      );
      const items: Array<{ id: string; seq: number }> = [];
      for (let i = 0; i < page.length; i += 2) items.push({ id: page[i]!, seq: Number(page[i + 1]) });
      return { items, more: items.length === count };
    },
  };
}

/**
 * The jobs with a word that begins with `prefix`: the distinct words it expands to (at most
 * MAX_EXPANSION), each a newest-first range of the search index, merged; a prefix of more words
 * but few entries, its whole range; else null (too broad to read this way).
 */
async function wordSource(ctx: JobContext, prefix: string, estimate: number): Promise<Candidates | null> {
  const expanded = await SEARCH_EXPAND.run(ctx.redis, [ctx.keys.search], [prefix, MAX_EXPANSION + 1]);
  if (expanded.length > MAX_EXPANSION)
    return estimate <= PREFIX_READ_LIMIT ? prefixSource(ctx, prefix, estimate) : null;
  return {
    estimate,
    read: async (before, count) => {
      const from = before === null ? '' : pad(MAX_SEQ - before + 1);
      const pipeline = ctx.redis.pipeline();
      for (const word of expanded)
        pipeline.zrangebylex(ctx.keys.search, `[${word}\0${from}`, lexEnd(`${word}\0`), 'LIMIT', 0, count);
      const lists = ((await pipeline.exec()) ?? []).map(([error, members]) => {
        if (error) throw error;
        return (members as string[]).map((m) => {
          const [, inv, id] = m.split('\0');
          return { id: id!, seq: MAX_SEQ - Number(inv) };
        });
      });
      // A full list may go on below its last entry: merged results are complete only down to
      // the highest such last entry.
      let bound = Number.NEGATIVE_INFINITY;
      for (const list of lists)
        if (list.length === count) bound = Math.max(bound, list[list.length - 1]!.seq);
      const seen = new Set<string>();
      const items = lists
        .flat()
        .filter((c) => c.seq >= bound)
        .sort((a, b) => b.seq - a.seq)
        .filter((c) => !seen.has(c.id) && Boolean(seen.add(c.id)));
      return { items, more: bound > Number.NEGATIVE_INFINITY };
    },
  };
}

/**
 * A prefix of many words but few entries (`43` of `4301`, `4302`, …): its whole range, read at
 * once (at most PREFIX_READ_LIMIT entries) and put in newest-first order.
 */
function prefixSource(ctx: JobContext, prefix: string, estimate: number): Candidates {
  let all: Array<{ id: string; seq: number }> | null = null;
  return {
    estimate,
    read: async (before, count) => {
      if (!all) {
        const members = await ctx.redis.zrangebylex(ctx.keys.search, `[${prefix}`, lexEnd(prefix));
        const seen = new Set<string>();
        all = members
          .map((m) => {
            const [, inv, id] = m.split('\0');
            return { id: id!, seq: MAX_SEQ - Number(inv) };
          })
          .sort((a, b) => b.seq - a.seq)
          .filter((c) => !seen.has(c.id) && Boolean(seen.add(c.id)));
      }
      const from = before === null ? 0 : all.findIndex((c) => c.seq < before);
      const items = from < 0 ? [] : all.slice(from, from + count);
      return { items, more: from >= 0 && from + count < all.length };
    },
  };
}

/** The words a job is indexed by; records written before the index existed: recomputed. */
function indexedWords(record: JobRecord, raw: string | undefined): string[] {
  if (raw) return JSON.parse(raw) as string[];
  return jobWords({ ...record, videoId: record.progress?.video_id ?? record.video?.id ?? null });
}

const pad = (n: number): string => String(n).padStart(12, '0');

/** The inclusive end of a lexicographic range of members beginning with `prefix` (no member has a 0xff byte). */
function lexEnd(prefix: string): Buffer {
  return Buffer.concat([Buffer.from(`[${prefix}`), Buffer.from([0xff])]);
}

function filterCount(query: ListQuery): number {
  return [query.state, query.kind, query.owner, query.batch, query.since].filter((v) => v !== undefined)
    .length;
}
