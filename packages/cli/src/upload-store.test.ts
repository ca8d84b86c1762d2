import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { defaultUploadStorePath, FileUploadStore } from './upload-store.js';

describe('FileUploadStore', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cli-store-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const upload = (url: string) => ({
    size: 10,
    metadata: { filename: 'a.mp4' },
    creationTime: 'now',
    uploadUrl: url,
    parallelUploadUrls: null,
    urlStorageKey: '',
  });

  it('keeps uploads by fingerprint across instances, newest first, and removes them by key', async () => {
    const file = path.join(dir, 'nested', 'uploads.json');
    let clock = 1_000;
    const first = new FileUploadStore(file, () => clock);
    const keyA = await first.addUpload('fp-1', upload('http://relay/files/a'));
    clock = 2_000;
    await first.addUpload('fp-1', upload('http://relay/files/b'));
    await first.addUpload('fp-2', upload('http://relay/files/c'));

    const second = new FileUploadStore(file, () => clock);
    const found = await second.findUploadsByFingerprint('fp-1');
    expect(found.map((u) => u.uploadUrl)).toEqual(['http://relay/files/b', 'http://relay/files/a']);
    expect(found[1]!.urlStorageKey).toBe(keyA);
    expect(await second.findAllUploads()).toHaveLength(3);
    // A fingerprint that is a prefix of another is not confused with it.
    expect(await second.findUploadsByFingerprint('fp')).toEqual([]);

    await second.removeUpload(keyA);
    expect((await first.findUploadsByFingerprint('fp-1')).map((u) => u.uploadUrl)).toEqual([
      'http://relay/files/b',
    ]);
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
  });

  it('drops entries older than 30 days on the next write', async () => {
    const file = path.join(dir, 'uploads.json');
    let clock = 0;
    const store = new FileUploadStore(file, () => clock);
    await store.addUpload('old', upload('http://relay/files/old'));
    clock = 31 * 24 * 3_600_000;
    await store.addUpload('new', upload('http://relay/files/new'));
    expect((await store.findAllUploads()).map((u) => u.uploadUrl)).toEqual(['http://relay/files/new']);
  });

  it('treats a damaged file as empty instead of failing the upload', async () => {
    const file = path.join(dir, 'uploads.json');
    await fs.writeFile(file, '{not json');
    const store = new FileUploadStore(file);
    expect(await store.findAllUploads()).toEqual([]);
    await store.addUpload('fp', upload('http://relay/files/x'));
    expect(await store.findUploadsByFingerprint('fp')).toHaveLength(1);
  });

  it('lives under XDG_CONFIG_HOME, else ~/.config', () => {
    expect(defaultUploadStorePath({ XDG_CONFIG_HOME: '/x/conf', HOME: '/home/u' })).toBe(
      '/x/conf/gcore-tus-relay/uploads.json',
    );
    expect(defaultUploadStorePath({ HOME: '/home/u' })).toBe('/home/u/.config/gcore-tus-relay/uploads.json');
  });
});
