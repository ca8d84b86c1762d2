import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { startTestRelay, type TestRelay } from '../testing.js';

const STATIC = fileURLToPath(new URL('../../static/dashboard/', import.meta.url));

describe('the dashboard page', () => {
  let t: TestRelay;
  let auth: Record<string, string>;
  beforeAll(async () => {
    t = await startTestRelay();
    auth = { Authorization: `Bearer ${t.token}` };
  });
  afterAll(() => t.close());

  it('is served with a policy that lets no inline script run and forbids framing', async () => {
    const res = await request(t.relay.app).get('/dashboard').set(auth);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    const csp = res.headers['content-security-policy'] as string;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['cache-control']).toMatch(/private/);
  });

  it('finds every asset the page and its modules load', async () => {
    const html = (await request(t.relay.app).get('/dashboard').set(auth)).text;
    const urls = [...html.matchAll(/(?:src|href)="(\/dashboard\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(urls).toEqual(
      expect.arrayContaining(['/dashboard/assets/js/main.js', '/dashboard/assets/dashboard.css']),
    );
    // Every module as served, and every module it imports (the contract's included), as the browser.
    const seen = new Set<string>();
    for (let url = urls.shift(); url !== undefined; url = urls.shift()) {
      if (seen.has(url)) continue;
      seen.add(url);
      const res = await request(t.relay.app).get(url).set(auth);
      expect({ url, status: res.status }).toEqual({ url, status: 200 });
      if (!url.endsWith('.js')) continue;
      expect(res.headers['content-type']).toMatch(/javascript/);
      for (const m of res.text.matchAll(/(?:from|import) '(\.{1,2}\/[^']+)'/g)) {
        urls.push(new URL(m[1]!, `http://relay${url}`).pathname);
      }
    }
    expect([...seen]).toEqual(
      expect.arrayContaining(['/dashboard/assets/contract/index.js', '/dashboard/assets/contract/jobs.js']),
    );
  });

  it('serves the contract modules only, not their sources, maps or declarations', async () => {
    for (const url of [
      '/dashboard/assets/contract/index.d.ts',
      '/dashboard/assets/contract/index.js.map',
      '/dashboard/assets/contract/.tsbuildinfo',
      '/dashboard/assets/contract/%2e%2e/package.json',
      '/dashboard/assets/contract/nope.js',
    ]) {
      const res = await request(t.relay.app).get(url).set(auth);
      expect({ url, status: res.status }).toEqual({ url, status: 404 });
    }
    const res = await request(t.relay.app).get('/dashboard/assets/contract/index.js');
    expect(res.status).toBe(401);
  });

  it('serves nothing outside its static folder', async () => {
    for (const url of [
      '/dashboard/assets/%2e%2e/%2e%2e/src/app.ts',
      '/dashboard/assets/..%2f..%2fpackage.json',
      '/dashboard/assets/nope.js',
    ]) {
      const res = await request(t.relay.app).get(url).set(auth);
      expect({ url, status: res.status }).toEqual({ url, status: expect.any(Number) });
      expect(res.status).not.toBe(200);
      expect(res.text).not.toMatch(/createRelayApp|"@gtr\/relay"/);
    }
  });

  it('never turns data into markup (no HTML sinks in its scripts)', async () => {
    const files = await fs.readdir(path.join(STATIC, 'js'));
    expect(files.length).toBeGreaterThan(3);
    for (const file of files) {
      const source = await fs.readFile(path.join(STATIC, 'js', file), 'utf8');
      const code = source.replace(/^\s*\/\/.*$/gm, '');
      expect({
        file,
        sinks: code.match(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/g),
      }).toEqual({
        file,
        sinks: null,
      });
    }
  });

  it('has colours with WCAG AA contrast in the light and the dark theme', async () => {
    const css = await fs.readFile(path.join(STATIC, 'dashboard.css'), 'utf8');
    const light = variables(css.slice(css.indexOf(':root {'), css.indexOf('}', css.indexOf(':root {'))));
    const darkStart = css.indexOf(':root {', css.indexOf('@media (prefers-color-scheme: dark)'));
    const dark = { ...light, ...variables(css.slice(darkStart, css.indexOf('}', darkStart))) };
    const text = [
      ['text', 'bg'],
      ['text', 'surface'],
      ['text', 'surface-2'],
      ['muted', 'bg'],
      ['muted', 'surface'],
      ['muted', 'surface-2'],
      ['faint', 'surface'],
      ['faint', 'surface-2'],
      ['accent', 'surface'],
      ['danger', 'surface'],
      ['danger-solid-text', 'danger-solid'],
      ['danger-solid-text', 'danger-solid-hover'],
      ['warn-text', 'warn-bg'],
      ['warn-text', 'surface'],
      ['s-failed-fg', 'danger-bg'],
      ['s-failed-fg', 'surface'],
      ['topbar-text', 'topbar-bg'],
      ['topbar-muted', 'topbar-bg'],
      ['badge-fg', 'badge-bg'],
      ['banner-fg', 'banner-bg'],
      ['toast-fg', 'toast-bg'],
      ['toast-fg', 'toast-error-bg'],
      ...['receiving', 'queued', 'creating', 'uploading', 'processing', 'ready', 'failed', 'canceled'].map(
        (s) => [`s-${s}-fg`, `s-${s}-bg`],
      ),
    ];
    // Bars, focus rings and control borders: 3:1 (WCAG 1.4.11).
    const graphics = [
      ['bar-received', 'track'],
      ['bar-forwarded', 'track'],
      ['bar-done', 'track'],
      ['focus', 'surface'],
      ['focus', 'bg'],
      ['control-border', 'surface'],
    ];
    const failures: string[] = [];
    for (const [theme, vars] of [
      ['light', light],
      ['dark', dark],
    ] as const) {
      for (const [pairs, min] of [
        [text, 4.5],
        [graphics, 3],
      ] as const) {
        for (const [fg, bg] of pairs) {
          const ratio = contrast(vars[fg!], vars[bg!]);
          if (!(ratio >= min))
            failures.push(`${theme}: --${fg} on --${bg} is ${ratio.toFixed(2)}:1 (< ${min})`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('shows bull-board with the forward, import, track and notify queues', async () => {
    const page = await request(t.relay.app).get('/admin/queues').set(auth);
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/<html/i);
    const api = await request(t.relay.app).get('/admin/queues/api/queues').set(auth);
    expect(api.status).toBe(200);
    const names = (api.body.queues as Array<{ name: string }>).map((q) => q.name).sort();
    expect(names).toEqual(['forward', 'import', 'notify', 'track']);
  });
});

function variables(block: string): Record<string, string> {
  return Object.fromEntries(
    [...block.matchAll(/--([\w-]+):\s*(#[0-9a-fA-F]{6})\s*;/g)].map((m) => [m[1]!, m[2]!]),
  );
}

function contrast(a: string | undefined, b: string | undefined): number {
  if (!a || !b) return Number.NaN;
  const luminance = (hex: string) => {
    const [r, g, b2] = [1, 3, 5].map((i) => {
      const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
      return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    }) as [number, number, number];
    return 0.2126 * r + 0.7152 * g + 0.0722 * b2;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}
