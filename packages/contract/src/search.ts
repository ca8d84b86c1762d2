/**
 * The words a job can be found by (`GET /api/jobs?q=`): the words of its name, its filename, its
 * origin URL's host and path (never the query: presigned URLs carry signatures there), its id and
 * its Gcore video id. A word is a run of letters and digits, lower-cased (NFKC). A job matches
 * `q` when every word of `q` is the beginning of one of its words.
 */

/** Longest indexed word: longer ones are cut (a query word longer than this matches none). */
export const MAX_WORD_LENGTH = 64;
/** Most words indexed per job (the first ones: name, filename, URL, ids). */
export const MAX_WORDS_PER_JOB = 48;

export function searchWords(text: string | null | undefined): string[] {
  if (!text) return [];
  return text
    .normalize('NFKC')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0)
    .map((w) => w.slice(0, MAX_WORD_LENGTH));
}

export interface Searchable {
  id: string;
  name: string;
  filename: string | null;
  origin_url: string | null;
  videoId?: number | null;
}

export function jobWords(job: Searchable): string[] {
  const words = new Set<string>([
    ...searchWords(job.name),
    ...searchWords(job.filename),
    ...urlWords(job.origin_url),
    ...searchWords(job.id),
    ...(typeof job.videoId === 'number' ? [String(job.videoId)] : []),
  ]);
  return [...words].slice(0, MAX_WORDS_PER_JOB);
}

/** The WHATWG URL parser, in Node and in browsers alike (the contract takes no platform's types). */
const WhatwgUrl = (
  globalThis as unknown as { URL: new (input: string) => { hostname: string; pathname: string } }
).URL;

function urlWords(url: string | null): string[] {
  if (!url) return [];
  try {
    const u = new WhatwgUrl(url);
    let path = u.pathname;
    try {
      path = decodeURIComponent(path);
    } catch {
      // A malformed escape: the path's words as written.
    }
    return [...searchWords(u.hostname), ...searchWords(path)];
  } catch {
    return [];
  }
}

/** Whether every word of the query begins one of `words`. */
export function matchesWords(words: readonly string[], query: readonly string[]): boolean {
  return query.every((q) => words.some((w) => w.startsWith(q)));
}
