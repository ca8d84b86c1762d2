/** One import from a list file, with the line it started on (for error messages). */
export interface ListEntry {
  line: number;
  url: string;
  name?: string;
  description?: string;
}

export interface ListProblem {
  line: number;
  message: string;
}

export interface ParsedList {
  entries: ListEntry[];
  problems: ListProblem[];
}

/**
 * Parses an import list: one URL per line, or CSV `url,name[,description]` (RFC 4180 quoting,
 * so names may hold commas, `""` and line breaks). Blank lines and lines starting with `#` are
 * skipped, as is a header row whose first field is `url`. A URL that itself holds a comma must be
 * quoted.
 */
export function parseList(text: string): ParsedList {
  const entries: ListEntry[] = [];
  const problems: ListProblem[] = [];
  const src = text.startsWith('\uFEFF') ? text.slice(1) : text;
  let pos = 0;
  let line = 1;
  let first = true;

  while (pos < src.length) {
    const startLine = line;
    const eol = nextLineEnd(src, pos);
    const raw = src.slice(pos, eol);
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) {
      pos = skipNewline(src, eol);
      line++;
      continue;
    }

    const record = readRecord(src, pos);
    pos = record.end;
    line += record.newlines;
    if ('error' in record) {
      problems.push({ line: startLine, message: record.error });
      continue;
    }
    const fields = record.fields.map((f) => f.trim());
    const isHeader = first && fields[0]?.toLowerCase() === 'url';
    first = false;
    if (isHeader) continue;
    if (fields.length > 3) {
      problems.push({
        line: startLine,
        message: `expected url,name[,description] but found ${fields.length} fields (quote names that hold commas)`,
      });
      continue;
    }
    const [url = '', name = '', description = ''] = fields;
    if (!url) {
      problems.push({ line: startLine, message: 'no URL in the first field' });
      continue;
    }
    entries.push({
      line: startLine,
      url,
      ...(name ? { name } : {}),
      ...(description ? { description } : {}),
    });
  }
  return { entries, problems };
}

function nextLineEnd(src: string, from: number): number {
  const nl = src.indexOf('\n', from);
  const end = nl === -1 ? src.length : nl;
  return end > from && src[end - 1] === '\r' ? end - 1 : end;
}

function skipNewline(src: string, at: number): number {
  if (src[at] === '\r') at++;
  if (src[at] === '\n') at++;
  return at;
}

type RecordResult =
  | { fields: string[]; end: number; newlines: number }
  | { error: string; end: number; newlines: number };

/** Reads one CSV record from `start`; quoted fields may span lines. */
function readRecord(src: string, start: number): RecordResult {
  const fields: string[] = [];
  let field = '';
  let pos = start;
  let newlines = 0;
  let quoted = false;
  let atFieldStart = true;

  while (pos < src.length) {
    const ch = src[pos]!;
    if (quoted) {
      if (ch === '"') {
        if (src[pos + 1] === '"') {
          field += '"';
          pos += 2;
          continue;
        }
        quoted = false;
        pos++;
        // Only blanks may follow a closing quote before the separator.
        while (src[pos] === ' ' || src[pos] === '\t') pos++;
        if (pos < src.length && src[pos] !== ',' && src[pos] !== '\r' && src[pos] !== '\n') {
          const eol = nextLineEnd(src, pos);
          return {
            error: 'unexpected text after a closing quote',
            end: skipNewline(src, eol),
            newlines: newlines + 1,
          };
        }
        continue;
      }
      if (ch === '\n') newlines++;
      field += ch;
      pos++;
      continue;
    }
    if (ch === '"' && atFieldStart && field.trim() === '') {
      quoted = true;
      field = '';
      atFieldStart = false;
      pos++;
      continue;
    }
    if (ch === ',') {
      fields.push(field);
      field = '';
      atFieldStart = true;
      pos++;
      continue;
    }
    if (ch === '\r' || ch === '\n') {
      fields.push(field);
      return { fields, end: skipNewline(src, pos), newlines: newlines + 1 };
    }
    field += ch;
    if (ch !== ' ' && ch !== '\t') atFieldStart = false;
    pos++;
  }
  if (quoted) return { error: 'a quoted field is never closed', end: pos, newlines };
  fields.push(field);
  return { fields, end: pos, newlines };
}
