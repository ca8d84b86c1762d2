import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createRedis } from '@gtr/core';
import { deleteKeys, testPrefix, testRedisUrl } from '@gtr/core/testing';
import { startRelayProcess } from './support/processes.js';

const TOKEN = 'restart-test-token-0123456789abcdef';
const auth = { Authorization: `Bearer ${TOKEN}` };
const tus = { ...auth, 'Tus-Resumable': '1.0.0' };
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('a relay restarted on the same data dir', () => {
  let dataDir: string;
  const prefix = testPrefix();
  const redis = createRedis(testRedisUrl());

  beforeAll(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'relay-restart-'));
  });
  afterAll(async () => {
    await deleteKeys(redis, prefix);
    await redis.quit();
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('still lists its jobs and lets unfinished uploads resume', async () => {
    const env = {
      DATA_DIR: dataDir,
      REDIS_URL: testRedisUrl(),
      REDIS_PREFIX: prefix,
      RELAY_API_TOKENS: TOKEN,
    };
    const first = await startRelayProcess(env);
    const create = (length: number, body: Buffer, name: string) =>
      fetch(`${first.url}/files/`, {
        method: 'POST',
        headers: {
          ...tus,
          'Upload-Length': String(length),
          'Upload-Metadata': `filename ${b64(name)}`,
          'Content-Type': 'application/offset+octet-stream',
        },
        body,
      });
    const done = await create(1_000, Buffer.alloc(1_000, 1), 'done.mp4');
    const partial = await create(1_000, Buffer.alloc(400, 2), 'partial.mp4');
    expect([done.status, partial.status]).toEqual([201, 201]);
    const doneId = done.headers.get('location')!.split('/').pop()!;
    const partialId = partial.headers.get('location')!.split('/').pop()!;
    expect(await first.stop('SIGTERM')).toBe(0);

    const second = await startRelayProcess(env);
    try {
      const list = (await (await fetch(`${second.url}/api/jobs`, { headers: auth })).json()) as {
        items: Array<{ id: string; state: string; bytes_received: number }>;
      };
      expect(list.items.map((j) => [j.id, j.state, j.bytes_received])).toEqual([
        [partialId, 'receiving', 400],
        [doneId, 'queued', 1_000],
      ]);
      const head = await fetch(`${second.url}/files/${partialId}`, { method: 'HEAD', headers: tus });
      expect(head.headers.get('upload-offset')).toBe('400');
      const rest = await fetch(`${second.url}/files/${partialId}`, {
        method: 'PATCH',
        headers: { ...tus, 'Upload-Offset': '400', 'Content-Type': 'application/offset+octet-stream' },
        body: Buffer.alloc(600, 2),
      });
      expect(rest.status).toBe(204);
      const job = (await (await fetch(`${second.url}/api/jobs/${partialId}`, { headers: auth })).json()) as {
        state: string;
        bytes_received: number;
      };
      expect(job).toMatchObject({ state: 'queued', bytes_received: 1_000 });
    } finally {
      expect(await second.stop('SIGINT')).toBe(0);
    }
  });
});
