import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { runCli } from './cli.js';
import { captureIo } from './testing.js';

/**
 * A minimal TUS server (creation + HEAD + PATCH) whose first PATCH takes the bytes and never
 * answers, as a connection that dies silently does. Plus the two jobs API calls upload makes.
 */
async function stallingTusServer() {
  let offset = 0;
  let patches = 0;
  const methods: string[] = [];
  const server = http.createServer((req, res) => {
    methods.push(`${req.method} ${req.url}`);
    if (req.url?.startsWith('/api/jobs')) {
      req.resume();
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(req.url.includes('?') ? '{"items":[],"next":null}' : '{"id":"abc","state":"queued"}');
      return;
    }
    const tus = { 'Tus-Resumable': '1.0.0' };
    if (req.method === 'POST') {
      req.resume();
      res.writeHead(201, { ...tus, Location: '/files/abc' }).end();
      return;
    }
    if (req.method === 'HEAD') {
      res.writeHead(200, { ...tus, 'Upload-Offset': String(offset), 'Upload-Length': '300000' }).end();
      return;
    }
    if (req.method === 'PATCH') {
      patches++;
      const stall = patches === 1;
      req.on('data', (d: Buffer) => (offset += d.length));
      req.on('end', () => {
        if (!stall) res.writeHead(204, { ...tus, 'Upload-Offset': String(offset) }).end();
      });
      return;
    }
    res.writeHead(405).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    methods,
    offset: () => offset,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('upload', () => {
  it('reconnects a transfer that stalls and resumes it from the offset the server has', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cli-stall-'));
    const server = await stallingTusServer();
    try {
      const file = path.join(dir, 'stall.mp4');
      await fs.writeFile(file, Buffer.alloc(300_000, 7));
      const cap = captureIo({
        env: { RELAY_URL: server.url, RELAY_TOKEN: 't', XDG_CONFIG_HOME: dir },
        cwd: dir,
      });
      const code = await runCli(['upload', 'stall.mp4', '--no-wait'], {
        ...cap.io,
        stallTimeoutMs: 300,
        uploadRetryDelays: [0],
      });
      expect(cap.stderr()).toBe('');
      expect(cap.stdout()).toContain('stall.mp4: no progress for 0.3 s; reconnecting');
      expect(cap.stdout()).toContain('stall.mp4: resuming job abc at 300 kB of 300 kB');
      expect(cap.stdout()).toContain('stall.mp4: uploaded (job abc)');
      expect(code).toBe(0);
      expect(server.methods.filter((m) => !m.startsWith('GET'))).toEqual([
        'POST /files/',
        'PATCH /files/abc',
        'HEAD /files/abc',
      ]);
      expect(server.offset()).toBe(300_000);
    } finally {
      await server.close();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
