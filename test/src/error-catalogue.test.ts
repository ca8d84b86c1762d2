import fs from 'node:fs';
import path from 'node:path';
import { ERROR_CODES, isErrorCode } from '@gtr/contract';
import { DOC_PATH, renderErrorsDoc } from '../../scripts/errors-doc.mjs';
import { ROOT } from './support/processes.js';

// Every code the code base can produce must be in the catalogue (packages/contract/src/errors.ts),
// and docs/errors.md must be what scripts/errors-doc.mjs makes of it. Where a code is typed
// `ErrorCode` the compiler checks it already; this scan also covers what is not typed (job errors'
// codes, the dashboard's JavaScript) and what a file outside the compiler's reach produces.

/** apps/*\/src and packages/*\/src without tests, and the dashboard; the emulator's codes are Gcore's. */
function sourceFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: string, keep: (name: string) => boolean): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full, keep);
      else if (keep(entry.name)) files.push(full);
    }
  };
  const ts = (name: string) => name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts');
  for (const group of ['apps', 'packages']) {
    for (const name of fs.readdirSync(path.join(ROOT, group))) {
      if (group === 'apps' && name === 'gcore-emulator') continue;
      const src = path.join(ROOT, group, name, 'src');
      if (fs.existsSync(src)) walk(src, ts);
    }
  }
  walk(path.join(ROOT, 'apps/relay/static/dashboard/js'), (name) => name.endsWith('.js'));
  return files.sort();
}

const LITERAL = /(['"])([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)\1/g;
/** Upper-case literals that are arguments of error constructors without being codes. */
const NOT_CODES = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The upper-case literals an expression can evaluate to: not those it only compares with. */
function producedLiterals(expression: string): string[] {
  const found: string[] = [];
  for (const match of expression.matchAll(LITERAL)) {
    const before = expression.slice(0, match.index).trimEnd();
    const after = expression.slice(match.index + match[0].length).trimStart();
    if (/[=!]=$/.test(before) || /^[=!]=/.test(after)) continue;
    if (!NOT_CODES.has(match[2]!)) found.push(match[2]!);
  }
  return found;
}

/** From `open` (an opening bracket's index) to its closing bracket, skipping strings. */
function balanced(text: string, open: number): string {
  const closing: Record<string, string> = { '(': ')', '{': '}', '[': ']' };
  const stack: string[] = [];
  for (let i = open; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'" || c === '"' || c === '`') {
      for (i++; i < text.length && text[i] !== c; i++) if (text[i] === '\\') i++;
    } else if (c in closing) {
      stack.push(closing[c]!);
    } else if (c === stack.at(-1)) {
      stack.pop();
      if (stack.length === 0) return text.slice(open + 1, i);
    }
  }
  return text.slice(open + 1);
}

/** Where the code base names a code it produces, in the shapes it uses. */
const SHAPES: Array<{
  shape: string;
  pattern: RegExp;
  expression: (text: string, m: RegExpExecArray) => string;
}> = [
  // `code: 'X'`, `code: refused ? 'X' : 'Y'`, `code: ErrorCode = 'X'`, `code = MAP[s] ?? 'X'`,
  // `error.code ?? 'X'`.
  {
    shape: 'code: / code = / code ??',
    pattern: /\bcode\b\s*(?::|=(?!=)|\?\?)([^,;\n}]*)/g,
    expression: (_text, m) => m[1]!,
  },
  // `new AppError('X', …)`, `GcoreError('X'`, `sendError(res, 'X')`, `renderError(c ? 'X' : 'Y')`,
  // `super('X', …)`, `super(message, 'X')`: the arguments of anything named …Error, and of super.
  {
    shape: '…Error( / super(',
    pattern: /\b(?:\w*Error|super)\s*\(/g,
    expression: (text, m) => balanced(text, m.index + m[0].length - 1),
  },
  // `const CODE_BY_STATUS: Record<number, ErrorCode> = {404: 'X', …}`, API_CODES, TOKEN_CODES.
  {
    shape: 'code map',
    pattern: /\bconst\s+\w*CODES?\w*\s*(?::[^=]+)?=\s*\{/g,
    expression: (text, m) => balanced(text, m.index + m[0].length - 1),
  },
  // `function tusErrorCode(status: number): ErrorCode { … return 'X'; }`.
  {
    shape: 'code function',
    pattern: /\bfunction\s+\w*Code\s*\([^)]*\)\s*:[^{]*\{/g,
    expression: (text, m) => balanced(text, m.index + m[0].length - 1),
  },
  // `type SafeFetchErrorCode = | 'X' | 'Y';`.
  {
    shape: 'code type',
    pattern: /\btype\s+\w*Code\s*=([^;]*);/g,
    expression: (_text, m) => m[1]!,
  },
];

interface Found {
  code: string;
  where: string;
  shape: string;
}

function codesIn(text: string, where: string): Found[] {
  const found: Found[] = [];
  for (const { shape, pattern, expression } of SHAPES) {
    for (const m of text.matchAll(pattern)) {
      const line = text.slice(0, m.index).split('\n').length;
      for (const code of producedLiterals(expression(text, m as RegExpExecArray))) {
        found.push({ code, where: `${where}:${line}`, shape });
      }
    }
  }
  return found;
}

describe('the error catalogue', () => {
  const files = sourceFiles();
  const sources = new Map(files.map((file) => [path.relative(ROOT, file), fs.readFileSync(file, 'utf8')]));
  const found = [...sources].flatMap(([file, text]) => codesIn(text, file));
  const catalogued = Object.keys(ERROR_CODES);

  it('finds each shape the code base produces codes in', () => {
    const sample = [
      "error: { code: 'A_1', message: 'x', retryable: false }",
      '{ code: "A_2" }',
      "code: refused ? 'A_3' : 'A_4',",
      "constructor(message = 'm', code: ErrorCode = 'A_5') {",
      "const code = CODE_BY_STATUS[status] ?? 'A_6';",
      "throw new ApiError(res.status, error.code ?? 'A_7', 'x');",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: sample source with a template literal
      "throw new AppError(\n  'A_8',\n  `the ${what(1)} (x)`,\n  409,\n);",
      "new GcoreError('A_9', 'm', { retryable: true })",
      "super('A_10', `m`, { retryable: true });",
      "super('the caller stopped it', 'A_11');",
      "sendError(res, 'A_12', 'no such route');",
      "renderError(e.code === 'NODE_CODE' ? 'A_13' : 'A_14')",
      "const API_CODES: Record<number, ErrorCode> = {\n  400: 'A_15',\n  401: 'A_16',\n};",
      "const TOKEN_CODES = { invalid: 'A_17' };",
      "function tusErrorCode(status: number): ErrorCode {\n  if (status === 429) return 'A_18';\n  return 'A_19';\n}",
      "export type FetchErrorCode =\n  /** c */\n  | 'A_20'\n  | 'A_21';",
      "throw new GcoreResponseError('GET', route, 'a list');",
      "if (code === 'ENOENT') return; tokenSource: 'RELAY_TOKEN'; code !== 'EPIPE'",
    ].join('\n');
    const codes = codesIn(sample, 'sample').map((f) => f.code);
    expect([...new Set(codes)].sort()).toEqual(Array.from({ length: 21 }, (_, i) => `A_${i + 1}`).sort());
  });

  it('scans the relay, the workers, the packages and the dashboard', () => {
    const scanned = [...sources.keys()];
    for (const dir of ['apps/relay/src', 'apps/worker/src', 'packages/core/src', 'packages/gcore/src']) {
      expect(scanned.filter((file) => file.startsWith(dir)).length).toBeGreaterThan(5);
    }
    expect(scanned).toContain('apps/relay/static/dashboard/js/api.js');
    expect(scanned.some((file) => file.includes('gcore-emulator'))).toBe(false);
    // One code from each kind of place, so a scan that quietly finds nothing fails here.
    const codes = new Set(found.map((f) => f.code));
    for (const code of [
      'GCORE_VIDEO_GONE', // worker, job error
      'UPLOAD_EXPIRED', // relay maintenance, job error
      'OFFSET_CONFLICT', // CODE_BY_STATUS
      'GCORE_TUS_TOKEN_INVALID', // gcore's code map
      'GCORE_TUS_UPLOAD_GONE', // gcore's code function
      'DOWNLOAD_INCOMPLETE', // SafeFetchErrorCode
      'HEADERS_TOO_LARGE', // the raw-socket answer
      'FORWARD_ABORTED', // super(message, code)
      'CROSS_SITE_REQUEST', // sendError
    ]) {
      expect(codes).toContain(code);
    }
  });

  it('has every code the sources produce', () => {
    const missing = found
      .filter((f) => !isErrorCode(f.code))
      .map((f) => `${f.code} (${f.where}, ${f.shape})`);
    expect(missing).toEqual([]);
  });

  it('has no code that nothing in the sources names', () => {
    const text = [...sources].filter(([file]) => !file.startsWith('packages/contract/')).map(([, t]) => t);
    const named = new Set(text.flatMap((t) => [...t.matchAll(LITERAL)].map((m) => m[2]!)));
    expect(catalogued.filter((code) => !named.has(code))).toEqual([]);
  });

  it('says for every code its status, retryability and meaning', () => {
    for (const [code, info] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
      if (info.status !== null) {
        expect(Number.isInteger(info.status) && info.status >= 400 && info.status <= 599).toBe(true);
      }
      expect(typeof info.retryable).toBe('boolean');
      expect(info.meaning).toMatch(/^\S[^\n]{9,119}$/);
    }
  });

  it('is listed in full in docs/errors.md, as scripts/errors-doc.mjs writes it', () => {
    const doc = fs.readFileSync(DOC_PATH, 'utf8');
    const rows = new Set([...doc.matchAll(/^\| `([A-Z0-9_]+)` +\|/gm)].map((m) => m[1]));
    expect(catalogued.filter((code) => !rows.has(code))).toEqual([]);
    expect([...rows].filter((code) => !isErrorCode(code))).toEqual([]);
    // Stale? `pnpm build && node scripts/errors-doc.mjs`.
    expect(doc).toBe(renderErrorsDoc(ERROR_CODES));
  });
});
