import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { runCli } from './cli.js';
import { createS3Client, listVideos, parseS3Url, presignGet, titleOf } from './s3.js';
import { captureIo } from './testing.js';

interface Served {
  url: string;
  requests: URL[];
  close(): Promise<void>;
}

async function serve(
  handler: (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void,
): Promise<Served> {
  const requests: URL[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      requests.push(new URL(req.url ?? '/', 'http://x'));
      handler(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Answers path-style ListObjectsV2 for one bucket, two keys per page. */
function fakeS3(bucket: string, keys: string[]) {
  return serve((req, _body, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const bucketPath = url.pathname === `/${bucket}` || url.pathname === `/${bucket}/`;
    if (req.method !== 'GET' || !bucketPath || url.searchParams.get('list-type') !== '2') {
      res.writeHead(404, { 'Content-Type': 'application/xml' }).end('<Error><Code>NoSuchKey</Code></Error>');
      return;
    }
    const prefix = url.searchParams.get('prefix') ?? '';
    const matching = keys.filter((k) => k.startsWith(prefix));
    const start = Number(url.searchParams.get('continuation-token') ?? '0');
    const page = matching.slice(start, start + 2);
    const truncated = start + 2 < matching.length;
    res.writeHead(200, { 'Content-Type': 'application/xml' });
    res.end(
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
        '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
        `<Name>${bucket}</Name><Prefix>${escapeXml(prefix)}</Prefix><KeyCount>${page.length}</KeyCount>` +
        `<MaxKeys>1000</MaxKeys><IsTruncated>${truncated}</IsTruncated>` +
        page
          .map(
            (k) =>
              `<Contents><Key>${escapeXml(k)}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>` +
              `<ETag>"x"</ETag><Size>${k.length * 1000}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
          )
          .join('') +
        (truncated ? `<NextContinuationToken>${start + 2}</NextContinuationToken>` : '') +
        '</ListBucketResult>',
    );
  });
}

const KEYS = [
  'media/',
  'media/intro.mp4',
  'media/cover.jpg',
  'media/talks/keynote & demo.MOV',
  'media/playlist.m3u8',
  'media/talks/q&a.mkv',
  'other/skip.mp4',
];

const AWS_ENV = {
  AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  AWS_REGION: 'eu-west-1',
};

describe('S3 listing', () => {
  let s3: Served;
  beforeAll(async () => {
    s3 = await fakeS3('videos', KEYS);
  });
  afterAll(() => s3.close());

  it('parses s3://bucket/prefix', () => {
    expect(parseS3Url('s3://videos/media/talks/')).toEqual({ bucket: 'videos', prefix: 'media/talks/' });
    expect(parseS3Url('s3://videos')).toEqual({ bucket: 'videos', prefix: '' });
    expect(parseS3Url('https://videos/x')).toBeNull();
    expect(parseS3Url('s3:///x')).toBeNull();
    expect(titleOf('media/talks/keynote & demo.MOV')).toBe('keynote & demo');
  });

  it('lists every page path-style and keeps only video files', async () => {
    const client = createS3Client({ env: { ...AWS_ENV, AWS_ENDPOINT_URL_S3: s3.url } });
    try {
      const listing = await listVideos(client, { bucket: 'videos', prefix: 'media/' });
      expect(listing.videos.map((v) => v.key)).toEqual([
        'media/intro.mp4',
        'media/talks/keynote & demo.MOV',
        'media/talks/q&a.mkv',
      ]);
      expect(listing.skipped).toBe(3);
      const lists = s3.requests.filter((r) => r.pathname.startsWith('/videos'));
      expect(lists.map((r) => r.searchParams.get('continuation-token'))).toEqual([null, '2', '4']);
      expect(lists.every((r) => r.searchParams.get('prefix') === 'media/')).toBe(true);
    } finally {
      client.destroy();
    }
  });

  it('presigns GET URLs on the custom endpoint, path-style, with the expiry asked for', async () => {
    const client = createS3Client({ env: AWS_ENV, endpoint: s3.url });
    try {
      const url = new URL(await presignGet(client, 'videos', 'media/talks/keynote & demo.MOV', 900));
      expect(`${url.origin}${decodeURIComponent(url.pathname)}`).toBe(
        `${s3.url}/videos/media/talks/keynote & demo.MOV`,
      );
      expect(url.searchParams.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
      expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
      expect(url.searchParams.get('X-Amz-Credential')).toMatch(
        /^AKIDEXAMPLE\/\d{8}\/eu-west-1\/s3\/aws4_request$/,
      );
      expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      client.destroy();
    }
  });
});

describe('import --s3', () => {
  it('imports each video object through a presigned URL named after its file', async () => {
    const s3 = await fakeS3('videos', KEYS);
    const batches: Array<{ items: Array<{ origin_url: string; name: string; idempotency_key: string }> }> =
      [];
    // The import API as specified: 202 {"jobs", "created", "rejected"}.
    const relay = await serve((req, body, res) => {
      if (req.method === 'POST' && req.url === '/api/imports/batch') {
        const batch = JSON.parse(body) as (typeof batches)[number];
        batches.push(batch);
        const now = new Date().toISOString();
        res.writeHead(202, { 'Content-Type': 'application/json' }).end(
          JSON.stringify({
            jobs: batch.items.slice(1).map((item, i) => ({
              id: `job-${i}`,
              kind: 'import',
              state: 'queued',
              name: item.name,
              origin_url: item.origin_url,
              created_at: now,
            })),
            // The second object was imported by an earlier run.
            created: [true, false],
            rejected: [
              { index: 0, error: { code: 'ORIGIN_UNREACHABLE', message: 'the origin answered 403' } },
            ],
          }),
        );
        return;
      }
      res
        .writeHead(404, { 'Content-Type': 'application/json' })
        .end('{"error":{"code":"NOT_FOUND","message":"no"}}');
    });
    try {
      const cap = captureIo({
        env: { ...AWS_ENV, AWS_ENDPOINT_URL_S3: s3.url, RELAY_URL: relay.url, RELAY_TOKEN: 't' },
      });
      const code = await runCli(['import', '--s3', 's3://videos/media', '--expires', '600'], cap.io);
      expect(cap.stderr()).toBe('');
      expect(cap.stdout()).toContain('s3://videos/media: 3 videos (3 other objects skipped)');
      expect(cap.stdout()).toContain('imports: 1 created, 1 existing, 1 rejected');
      // The presigned URL (a credential for an hour) stays out of the output.
      expect(cap.stdout()).toContain(
        's3://videos/media/intro.mp4: the origin answered 403 (ORIGIN_UNREACHABLE)\n',
      );
      expect(cap.stdout()).not.toContain('X-Amz-Signature');
      expect(code).toBe(1);
      expect(batches).toHaveLength(1);
      // A migration from S3 is a batch named after the bucket and prefix.
      expect((batches[0] as { name?: string }).name).toBe('s3://videos/media');
      const items = batches[0]!.items;
      expect(items.map((i) => i.name)).toEqual(['intro', 'keynote & demo', 'q&a']);
      // What a re-run is recognised by: the object, not its (fresh) presigned URL.
      expect(items.map((i) => i.idempotency_key)).toEqual([
        's3://videos/media/intro.mp4',
        's3://videos/media/talks/keynote & demo.MOV',
        's3://videos/media/talks/q&a.mkv',
      ]);
      for (const item of items) {
        const url = new URL(item.origin_url);
        expect(url.origin).toBe(s3.url);
        expect(url.pathname.startsWith('/videos/media/')).toBe(true);
        expect(url.searchParams.get('X-Amz-Expires')).toBe('600');
      }
    } finally {
      await relay.close();
      await s3.close();
    }
  });

  it('says so when the bucket cannot be listed', async () => {
    const s3 = await fakeS3('videos', KEYS);
    try {
      const cap = captureIo({ env: { ...AWS_ENV, AWS_ENDPOINT_URL_S3: s3.url, RELAY_TOKEN: 't' } });
      const code = await runCli(['import', '--s3', 's3://missing/x'], cap.io);
      expect(code).toBe(1);
      expect(cap.stderr()).toMatch(/^relay import: cannot list s3:\/\/missing\/x: /);
    } finally {
      await s3.close();
    }
  });
});
