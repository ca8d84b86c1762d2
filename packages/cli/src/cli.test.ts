import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { RelayClient } from './api.js';
import { runCli } from './cli.js';
import { formatAge, formatBytes, formatDuration, renderTable } from './format.js';
import { resolveTarget } from './target.js';
import { captureIo } from './testing.js';

async function serve(
  handler: (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => handler(req, body, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on. */
async function deadUrl(): Promise<string> {
  const s = await serve(() => {});
  await s.close();
  return s.url;
}

describe('command line', () => {
  it.each([
    [[], 'relay: which command?'],
    [['frobnicate'], 'relay: unknown command "frobnicate"'],
    [['jobs', '--bogus'], "relay jobs: Unknown option '--bogus'"],
    [['jobs', '--state', 'done'], 'relay jobs: --state must be one of receiving, queued'],
    [['jobs', '--limit', '0'], 'relay jobs: --limit must be at least 1'],
    [['jobs', 'extra'], 'relay jobs: unexpected argument "extra"'],
    [['job'], 'relay job: which job? give its ID'],
    [['cancel', 'a', 'b'], 'relay cancel: one job ID at a time (got 2)'],
    [['upload'], 'relay upload: which file? give at least one'],
    [['upload', 'missing.mp4'], 'relay upload: no such file: missing.mp4'],
    [['upload', 'a.mp4', 'b.mp4', '--name', 'x'], 'relay upload: --name names one video'],
    [['upload', 'a.mp4', '--chunk-size', 'lots'], 'relay upload: --chunk-size must be a size in bytes'],
    [['upload', 'a.mp4', '--directory-id', '1.5'], 'relay upload: --directory-id must be a whole number'],
    [['import'], 'relay import: give URLs, --file LIST or --s3 s3://bucket/prefix'],
    [['import', 'https://x.test/a.mp4', '--file', 'l.txt'], 'relay import: use one of: URLs, --file or --s3'],
    [['import', '--s3', 'https://bucket/x'], 'relay import: --s3 wants s3://bucket/prefix'],
    [
      ['import', 'https://x.test/a.mp4', '--expires', '60'],
      'relay import: --expires, --endpoint and --region go with --s3',
    ],
    [['import', '--file', 'nope.txt'], 'relay import: no such file: nope.txt'],
    [['jobs', '--url', 'ftp://relay'], 'relay jobs: the relay URL must be http(s)'],
  ])('refuses %j with exit code 2 and the usage', async (argv, message) => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cli-usage-'));
    const cap = captureIo({ cwd: dir, env: { RELAY_URL: await deadUrl() } });
    try {
      expect(await runCli(argv, cap.io)).toBe(2);
      expect(cap.stderr()).toContain(message);
      expect(cap.stderr()).toContain('Usage: pnpm relay');
      expect(cap.stdout()).toBe('');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('prints the general and per-command help with exit code 0', async () => {
    const general = captureIo();
    expect(await runCli(['--help'], general.io)).toBe(0);
    expect(general.stdout()).toMatch(/upload +upload video files/);
    const upload = captureIo();
    expect(await runCli(['upload', '-h'], upload.io)).toBe(0);
    expect(upload.stdout()).toContain('--chunk-size BYTES');
  });

  it('accepts the global options before the command name', async () => {
    let auth = '';
    const relay = await serve((req, _body, res) => {
      auth = req.headers.authorization ?? '';
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"items":[],"next":null}');
    });
    try {
      const cap = captureIo();
      expect(await runCli(['--url', relay.url, '--token', 'tok', 'jobs'], cap.io)).toBe(0);
      expect(auth).toBe('Bearer tok');
      expect(cap.stdout()).toBe('no jobs\n');
    } finally {
      await relay.close();
    }
  });

  it("counts imports as created or existing by the batch answer's created array", async () => {
    let sendCreated = true;
    const relay = await serve((_req, body, res) => {
      const { items } = JSON.parse(body) as { items: Array<{ origin_url: string }> };
      const jobs = items.map((item, i) => ({
        id: `job-${i}`,
        kind: 'import',
        state: 'queued',
        origin_url: item.origin_url,
        // Long ago, as a job made by an earlier run looks: the answer says what is new, not the clock.
        created_at: '2020-01-01T00:00:00.000Z',
      }));
      const answer = { jobs, rejected: [], ...(sendCreated ? { created: [false, true, false] } : {}) };
      res.writeHead(202, { 'Content-Type': 'application/json' }).end(JSON.stringify(answer));
    });
    try {
      const urls = ['https://x.test/a.mp4', 'https://x.test/b.mp4', 'https://x.test/c.mp4'];
      const env = { RELAY_URL: relay.url, RELAY_TOKEN: 't' };
      const cap = captureIo({ env });
      expect(await runCli(['import', ...urls], cap.io)).toBe(0);
      expect(cap.stdout()).toBe('imports: 1 created, 2 existing, 0 rejected\n');
      // A relay that does not say is not guessed about.
      sendCreated = false;
      const older = captureIo({ env });
      expect(await runCli(['import', ...urls], older.io)).toBe(0);
      expect(older.stdout()).toBe('imports: 0 created, 0 existing, 3 new or existing, 0 rejected\n');
    } finally {
      await relay.close();
    }
  });
});

describe('relay target', () => {
  it('takes flags over RELAY_URL/RELAY_TOKEN over the token pnpm start generated', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cli-target-'));
    try {
      expect(await resolveTarget({}, { env: {}, cwd: dir })).toEqual({
        url: 'http://127.0.0.1:8080',
        token: null,
        tokenSource: null,
      });
      await fs.mkdir(path.join(dir, 'data'));
      await fs.writeFile(path.join(dir, 'data', 'relay-token'), 'from-data\n');
      expect(await resolveTarget({}, { env: {}, cwd: dir })).toMatchObject({
        token: 'from-data',
        tokenSource: path.join('data', 'relay-token'),
      });
      // `pnpm relay` runs at the workspace root while file arguments are relative to where it was typed.
      expect(await resolveTarget({}, { env: {}, cwd: '/somewhere/else', root: dir })).toMatchObject({
        token: 'from-data',
      });
      await fs.mkdir(path.join(dir, 'custom'));
      await fs.writeFile(path.join(dir, 'custom', 'relay-token'), 'from-data-dir\n');
      expect(await resolveTarget({}, { env: { DATA_DIR: 'custom' }, cwd: dir })).toMatchObject({
        token: 'from-data-dir',
      });
      expect(
        await resolveTarget(
          {},
          { env: { DATA_DIR: 'custom', RELAY_TOKEN: 'env', RELAY_URL: 'http://r:1/x/' }, cwd: dir },
        ),
      ).toEqual({ url: 'http://r:1/x', token: 'env', tokenSource: 'RELAY_TOKEN' });
      expect(
        await resolveTarget(
          { token: 'flag', url: 'https://relay.test' },
          { env: { RELAY_TOKEN: 'env' }, cwd: dir },
        ),
      ).toEqual({ url: 'https://relay.test', token: 'flag', tokenSource: '--token' });
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('relay errors', () => {
  const target = (url: string, token: string | null = 'secret-token') => ({
    url,
    token,
    tokenSource: token ? 'RELAY_TOKEN' : null,
  });

  it('names the relay URL and `pnpm start` when nothing listens', async () => {
    const url = await deadUrl();
    const cap = captureIo({ env: { RELAY_URL: url, RELAY_TOKEN: 'x' } });
    expect(await runCli(['jobs'], cap.io)).toBe(1);
    expect(cap.stderr()).toBe(
      `relay jobs: no relay answers at ${url}; start it with \`pnpm start\` (or set RELAY_URL / --url)\n`,
    );
  });

  it('explains a refused or missing token without printing it', async () => {
    const relay = await serve((_req, _body, res) => {
      res
        .writeHead(401, { 'Content-Type': 'application/json' })
        .end('{"error":{"code":"UNAUTHORIZED","message":"no"}}');
    });
    try {
      const refused = captureIo({ env: { RELAY_URL: relay.url, RELAY_TOKEN: 'secret-token' } });
      expect(await runCli(['jobs'], refused.io)).toBe(1);
      expect(refused.stderr()).toContain('the relay refused the token (from RELAY_TOKEN); set RELAY_TOKEN');
      expect(refused.stderr()).not.toContain('secret-token');
      const missing = new RelayClient({ target: target(relay.url, null) });
      await expect(missing.check()).rejects.toThrow('the relay wants a token and none was found');
    } finally {
      await relay.close();
    }
  });

  it("passes the relay's JSON error message through, and says when an answer is not the relay's", async () => {
    const relay = await serve((req, _body, res) => {
      if (req.url?.startsWith('/api/jobs/busy')) {
        res
          .writeHead(409, { 'Content-Type': 'application/json' })
          .end(
            '{"error":{"code":"JOB_NOT_FAILED","message":"only failed jobs can be retried; this one is queued"}}',
          );
      } else if (req.url === '/api/imports') {
        res
          .writeHead(404, { 'Content-Type': 'application/json' })
          .end('{"error":{"code":"NOT_FOUND","message":"no such route"}}');
      } else {
        res.writeHead(502, { 'Content-Type': 'text/html' }).end('<h1>Bad gateway</h1>');
      }
    });
    try {
      const client = new RelayClient({ target: target(relay.url) });
      await expect(client.retryJob('busy')).rejects.toMatchObject({
        message: 'only failed jobs can be retried; this one is queued',
        status: 409,
        code: 'JOB_NOT_FAILED',
      });
      await expect(client.createImport({ origin_url: 'https://x.test/a.mp4' })).rejects.toThrow(
        `the relay at ${relay.url} does not offer the import API (POST /api/imports)`,
      );
      await expect(client.getJob('x')).rejects.toMatchObject({
        message: `the jobs API answered 502 without a relay error (is ${relay.url} the relay?)`,
        transient: true,
      });
    } finally {
      await relay.close();
    }
  });

  it('gives up on a relay that does not answer in time', async () => {
    const relay = await serve(() => {});
    try {
      const client = new RelayClient({ target: target(relay.url), timeoutMs: 200 });
      await expect(client.getJob('x')).rejects.toMatchObject({
        message: `the relay at ${relay.url} did not answer within 0.2 s`,
        kind: 'timeout',
      });
    } finally {
      await relay.close();
    }
  });
});

describe('formatting', () => {
  it('shows sizes, durations and ages compactly', () => {
    expect([formatBytes(999), formatBytes(1_500), formatBytes(52_428_800), formatBytes(3e12)]).toEqual([
      '999 B',
      '1.5 kB',
      '52.4 MB',
      '3.0 TB',
    ]);
    expect([
      formatDuration(4_400),
      formatDuration(185_000),
      formatDuration(7_800_000),
      formatDuration(2e8),
    ]).toEqual(['4s', '3m 05s', '2h 10m', '2d 7h']);
    const now = Date.parse('2026-01-02T00:00:00Z');
    expect(
      ['2026-01-01T23:59:30Z', '2026-01-01T23:00:00Z', '2025-12-30T00:00:00Z'].map((t) => formatAge(t, now)),
    ).toEqual(['30s', '1h', '3d']);
  });

  it('aligns table columns', () => {
    expect(
      renderTable(
        ['ID', 'STATE', 'NAME'],
        [
          ['a1', 'ready', 'x'],
          ['b', 'queued', ''],
        ],
      ),
    ).toBe('ID  STATE   NAME\na1  ready   x\nb   queued');
  });
});
