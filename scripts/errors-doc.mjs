// Writes docs/errors.md from the error catalogue (packages/contract/src/errors.ts, as built by
// `pnpm build`): `node scripts/errors-doc.mjs`. With `--check` it only exits 1 when the file is not
// what it would write. test/src/error-catalogue.test.ts fails on a stale file too.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const DOC_PATH = fileURLToPath(new URL('../docs/errors.md', import.meta.url));

/** Markdown table cells: no pipes, and no `<…>` a renderer would take for HTML. */
const cell = (text) => text.replaceAll('|', '\\|').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/** @param {Readonly<Record<string, {status: number | null, retryable: boolean, meaning: string}>>} codes */
export function renderErrorsDoc(codes) {
  const rows = Object.entries(codes).map(([code, info]) => [
    `\`${code}\``,
    String(info.status ?? '—'),
    info.retryable ? 'yes' : 'no',
    cell(info.meaning),
  ]);
  return [
    '# Error codes',
    '',
    '<!-- Generated from packages/contract/src/errors.ts by `node scripts/errors-doc.mjs`: edit the catalogue, not this file. -->',
    '',
    'Every error answer of the relay, TUS included, is `{"error": {"code": "…", "message": "…"}}`; a',
    'failed job carries `"error": {"code", "message", "retryable"}`. Codes are stable: match on them,',
    'not on messages. Clients get the table as `ERROR_CODES` from `@gtr/contract`.',
    '',
    '- **HTTP status**: the status of the answer with this code; — when the code is never an HTTP',
    "  answer and only appears in a job's `error` (forwarding, Gcore, processing).",
    "- **retryable**: whether trying the same thing again later can help, as a rule. An error's own",
    '  `retryable` field, where it has one, is what counts for that case.',
    '',
    `${rows.length} codes.`,
    '',
    ...table(['code', 'HTTP status', 'retryable', 'meaning'], rows),
    '',
  ].join('\n');
}

/** A Markdown table with its columns padded, as `biome format` leaves it. */
function table(header, rows) {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i].length)));
  const line = (cells) => `| ${cells.map((text, i) => text.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { ERROR_CODES } = await import('../packages/contract/dist/index.js');
  const text = renderErrorsDoc(ERROR_CODES);
  const relative = path.relative(process.cwd(), DOC_PATH);
  if (process.argv.includes('--check')) {
    const current = fs.existsSync(DOC_PATH) ? fs.readFileSync(DOC_PATH, 'utf8') : '';
    if (current !== text) {
      console.error(`${relative} is stale: run \`pnpm build && node scripts/errors-doc.mjs\``);
      process.exit(1);
    }
  } else {
    fs.writeFileSync(DOC_PATH, text);
    console.log(`wrote ${relative} (${Object.keys(ERROR_CODES).length} codes)`);
  }
}
