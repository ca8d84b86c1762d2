import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeVideoFile } from '@gtr/core/testing';
import { detectContainer } from './container.js';
import { scratch } from './test-support.js';

describe('writeVideoFile', () => {
  it('writes a file of the asked size that looks like an MP4 and reports its SHA-256', async () => {
    const files = await scratch();
    try {
      const path = join(files.dir, 'a.mp4');
      const { sha256 } = await writeVideoFile(path, 3 * 1024 * 1024 + 17, 5);
      const content = await readFile(path);
      expect(content.length).toBe(3 * 1024 * 1024 + 17);
      expect(createHash('sha256').update(content).digest('hex')).toBe(sha256);
      expect(detectContainer(content.subarray(0, 512))).toBe('iso-bmff');

      const again = await writeVideoFile(join(files.dir, 'b.mp4'), 3 * 1024 * 1024 + 17, 5);
      const other = await writeVideoFile(join(files.dir, 'c.mp4'), 3 * 1024 * 1024 + 17, 6);
      expect(again.sha256).toBe(sha256);
      expect(other.sha256).not.toBe(sha256);

      const tiny = await writeVideoFile(join(files.dir, 'd.mp4'), 10);
      expect((await readFile(join(files.dir, 'd.mp4'))).length).toBe(10);
      expect(tiny.sha256).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      await files.cleanup();
    }
  });
});
