import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { emptyProgress } from '../jobs/types.js';
import { type UploadManifest, UploadManifests } from './manifests.js';

const record = (id: string): UploadManifest => ({
  id,
  kind: 'upload',
  name: 'clip',
  filename: 'clip.mp4',
  size: 10,
  created_at: new Date(0).toISOString(),
  request: { description: null, filetype: null, fields: {}, callback_url: null, via: 'gcore' },
  completed_at: null,
  video_id: emptyProgress().video_id,
  client_id: null,
  upload_url: null,
  uploaded_at: null,
});

describe('upload manifests on disk', () => {
  let dir: string;
  let manifests: UploadManifests;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'manifests-'));
    manifests = new UploadManifests(dir);
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  it('leaves no temp file behind when a write fails', async () => {
    // A directory where the record should go makes the rename fail after the temp file exists.
    await fs.mkdir(manifests.file('a'));
    await fs.writeFile(path.join(manifests.file('a'), 'x'), '');
    await expect(manifests.write(record('a'))).rejects.toThrow();
    expect((await fs.readdir(dir)).sort()).toEqual(['a.relay.json']);
  });

  it('sweeps temp files of interrupted writes once they are old, and nothing else', async () => {
    await manifests.write(record('b'));
    const stale = path.join(dir, 'b.relay.json.0a1b2c3d.tmp');
    const young = path.join(dir, 'c.relay.json.deadbeef.tmp');
    await fs.writeFile(stale, '{"id":');
    await fs.writeFile(young, '{"id":');
    await fs.writeFile(path.join(dir, 'other.tmp'), '');
    const old = new Date(Date.now() - 120_000);
    await fs.utimes(stale, old, old);
    expect(await manifests.sweepTemp(30_000)).toBe(1);
    expect((await fs.readdir(dir)).sort()).toEqual([
      'b.relay.json',
      'c.relay.json.deadbeef.tmp',
      'other.tmp',
    ]);
    expect(await manifests.read('b')).toEqual(record('b'));
  });
});
