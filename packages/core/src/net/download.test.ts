import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { downloadToFile } from './download.js';
import { SafeFetchError } from './errors.js';

const FILE = randomBytes(256 * 1024);
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

interface Origin {
  url: string;
  ranges: (string | undefined)[];
  ifRanges: (string | undefined)[];
  close(): Promise<void>;
}

type Mode = 'normal' | 'cut-first' | 'ignore-range' | 'missing' | 'unavailable';

/** The file's version as FILE: a strong ETag and its date. */
const ETAG = '"v1"';
const LAST_MODIFIED = 'Wed, 01 Jan 2025 00:00:00 GMT';

interface OriginOptions {
  /** The ETag sent (default the strong ETAG); null sends none. */
  etag?: string | null;
  /** Whether Last-Modified is sent. Default true. */
  lastModified?: boolean;
}

/**
 * Serves FILE at /video.mp4 with Range support, honouring If-Range as RFC 9110 says (a validator
 * other than the current ETag or date gets 200 with the whole file). `cut-first` sends half of
 * the first full answer and then drops the connection; `ignore-range` always answers 200 with the
 * whole file.
 */
async function startOrigin(mode: Mode, options: OriginOptions = {}): Promise<Origin> {
  const ranges: (string | undefined)[] = [];
  const ifRanges: (string | undefined)[] = [];
  let cut = mode === 'cut-first';
  const etag = options.etag === undefined ? ETAG : options.etag;
  const validators = {
    ...(etag ? { ETag: etag } : {}),
    ...((options.lastModified ?? true) ? { 'Last-Modified': LAST_MODIFIED } : {}),
  };
  const server = http.createServer((req, res) => {
    ranges.push(req.headers.range);
    ifRanges.push(req.headers['if-range'] as string | undefined);
    if (mode === 'missing') return void res.writeHead(404).end('no');
    if (mode === 'unavailable') return void res.writeHead(503).end('later');
    const ifRange = req.headers['if-range'] as string | undefined;
    const holds =
      ifRange === undefined ||
      (ifRange === etag && !etag.startsWith('W/')) ||
      (ifRange === LAST_MODIFIED && 'Last-Modified' in validators);
    const range = holds ? /^bytes=(\d+)-$/.exec(req.headers.range ?? '') : null;
    if (range && mode !== 'ignore-range') {
      const start = Number(range[1]);
      if (start >= FILE.length) {
        return void res.writeHead(416, { 'Content-Range': `bytes */${FILE.length}` }).end();
      }
      res.writeHead(206, {
        ...validators,
        'Content-Type': 'video/mp4',
        'Content-Length': FILE.length - start,
        'Content-Range': `bytes ${start}-${FILE.length - 1}/${FILE.length}`,
      });
      return void res.end(FILE.subarray(start));
    }
    res.writeHead(200, { ...validators, 'Content-Type': 'video/mp4', 'Content-Length': FILE.length });
    if (cut) {
      cut = false;
      res.write(FILE.subarray(0, FILE.length / 2));
      // Long enough for the client to write what it got to disk, then the connection dies.
      setTimeout(() => res.socket?.destroy(), 200);
      return;
    }
    res.end(FILE);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/video.mp4`,
    ranges,
    ifRanges,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('downloadToFile', () => {
  let dir: string;
  let target: string;
  let origin: Origin | undefined;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'download-test-'));
    target = path.join(dir, 'video.mp4');
  });
  afterEach(async () => {
    await origin?.close();
    origin = undefined;
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('streams the file to disk and reports progress', async () => {
    origin = await startOrigin('normal');
    const progress: number[] = [];
    const result = await downloadToFile(origin.url, target, {
      allowPrivate: true,
      onProgress: (bytes, total) => {
        expect(total).toBe(FILE.length);
        progress.push(bytes);
      },
    });
    expect(result).toMatchObject({
      bytes: FILE.length,
      total: FILE.length,
      resumed: false,
      contentType: 'video/mp4',
    });
    expect(sha(await fs.readFile(target))).toBe(sha(FILE));
    expect(progress.at(-1)).toBe(FILE.length);
    expect(origin.ranges).toEqual([undefined]);
  });

  it("resumes with Range and If-Range (the first answer's ETag) after a cut connection, appending only the rest", async () => {
    origin = await startOrigin('cut-first');
    const started: (string | null)[] = [];
    const first = await downloadToFile(origin.url, target, {
      allowPrivate: true,
      onStart: (validator) => {
        started.push(validator);
      },
    }).catch((e) => e);
    expect(started).toEqual([ETAG]);
    expect(first).toBeInstanceOf(SafeFetchError);
    expect(first.code).toBe('DOWNLOAD_INCOMPLETE');
    expect(first.retryable).toBe(true);
    const kept = (await fs.stat(target)).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(FILE.length);

    const second = await downloadToFile(origin.url, target, {
      allowPrivate: true,
      validator: ETAG,
      onStart: () => {
        throw new Error('a resume is no new start');
      },
    });
    expect(origin.ranges).toEqual([undefined, `bytes=${kept}-`]);
    expect(origin.ifRanges).toEqual([undefined, ETAG]);
    expect(second).toMatchObject({ bytes: FILE.length, total: FILE.length, resumed: true, validator: ETAG });
    expect(sha(await fs.readFile(target))).toBe(sha(FILE));
  });

  it('starts over cleanly when the origin ignores Range and answers 200', async () => {
    origin = await startOrigin('ignore-range');
    await fs.writeFile(target, Buffer.alloc(1_000, 'x'));
    const result = await downloadToFile(origin.url, target, { allowPrivate: true, validator: ETAG });
    expect(origin.ranges).toEqual(['bytes=1000-']);
    expect(result).toMatchObject({ bytes: FILE.length, resumed: false });
    expect(sha(await fs.readFile(target))).toBe(sha(FILE));
  });

  it('takes a 416 for a file that is already complete as done', async () => {
    origin = await startOrigin('normal');
    await fs.writeFile(target, FILE);
    const result = await downloadToFile(origin.url, target, { allowPrivate: true, validator: ETAG });
    expect(result).toMatchObject({ bytes: FILE.length, resumed: true });
    expect(origin.ranges).toEqual([`bytes=${FILE.length}-`]);
    expect(sha(await fs.readFile(target))).toBe(sha(FILE));
  });

  it('starts over from byte 0 when the origin changed since the partial file (If-Range fails: 200)', async () => {
    origin = await startOrigin('normal', { etag: '"v2"' });
    // Half of another version of the file, as an earlier attempt left it.
    await fs.writeFile(target, randomBytes(FILE.length / 2));
    const started: (string | null)[] = [];
    const result = await downloadToFile(origin.url, target, {
      allowPrivate: true,
      validator: ETAG,
      onStart: (validator) => {
        started.push(validator);
      },
    });
    expect(origin.ranges).toEqual([`bytes=${FILE.length / 2}-`]);
    expect(origin.ifRanges).toEqual([ETAG]);
    expect(started).toEqual(['"v2"']);
    expect(result).toMatchObject({ bytes: FILE.length, resumed: false, validator: '"v2"' });
    expect(sha(await fs.readFile(target))).toBe(sha(FILE));
  });

  it('resumes against Last-Modified when the ETag is weak, and not at all without a validator', async () => {
    origin = await startOrigin('cut-first', { etag: 'W/"weak"' });
    const started: (string | null)[] = [];
    await downloadToFile(origin.url, target, {
      allowPrivate: true,
      onStart: (validator) => {
        started.push(validator);
      },
    }).catch(() => {});
    expect(started).toEqual([LAST_MODIFIED]);
    const kept = (await fs.stat(target)).size;
    await downloadToFile(origin.url, target, { allowPrivate: true, validator: LAST_MODIFIED });
    expect(origin.ifRanges).toEqual([undefined, LAST_MODIFIED]);
    expect(origin.ranges).toEqual([undefined, `bytes=${kept}-`]);
    expect(sha(await fs.readFile(target))).toBe(sha(FILE));
    await origin.close();

    // No validator for the partial file: its version is unknown, so it is downloaded again whole.
    origin = await startOrigin('normal', { etag: null, lastModified: false });
    await fs.writeFile(target, FILE.subarray(0, 1_000));
    const again = await downloadToFile(origin.url, target, { allowPrivate: true });
    expect(origin.ranges).toEqual([undefined]);
    expect(again).toMatchObject({ bytes: FILE.length, resumed: false, validator: null });
    expect(sha(await fs.readFile(target))).toBe(sha(FILE));
  });

  it('refuses a file over maxBytes before writing anything', async () => {
    origin = await startOrigin('normal');
    const error = await downloadToFile(origin.url, target, { allowPrivate: true, maxBytes: 1_000 }).catch(
      (e) => e,
    );
    expect(error.code).toBe('TOO_LARGE');
    await expect(fs.stat(target)).rejects.toThrow(/ENOENT/);
  });

  it('passes the origin status on: 404 is final, 503 is worth retrying', async () => {
    origin = await startOrigin('missing');
    const missing = await downloadToFile(origin.url, target, { allowPrivate: true }).catch((e) => e);
    expect([missing.code, missing.status, missing.retryable]).toEqual(['ORIGIN_STATUS', 404, false]);
    await origin.close();
    origin = await startOrigin('unavailable');
    const later = await downloadToFile(origin.url, target, { allowPrivate: true }).catch((e) => e);
    expect([later.code, later.status, later.retryable]).toEqual(['ORIGIN_STATUS', 503, true]);
  });

  it('is behind the SSRF guard: a loopback origin is refused unless private addresses are allowed', async () => {
    origin = await startOrigin('normal');
    const error = await downloadToFile(origin.url, target).catch((e) => e);
    expect(error.code).toBe('ADDRESS_NOT_ALLOWED');
    expect(origin.ranges).toHaveLength(0);
    await expect(fs.stat(target)).rejects.toThrow(/ENOENT/);
  });
});
