import { spawnSync } from 'node:child_process';
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { writeVideoFile } from '@gtr/core/testing';
import { ROOT } from './proc.js';

/** Scratch space on the repository's disk (git-ignored); everything in it is removed at the end. */
export const WORK_ROOT = path.join(ROOT, 'bench', 'results', 'tmp');

const sources = new Map<number, Promise<string>>();

/** A video-like file of `size` bytes (MP4 header, pseudo-random body), made once per run. */
export function sourceFile(size: number): Promise<string> {
  let made = sources.get(size);
  if (!made) {
    made = (async () => {
      const dir = path.join(WORK_ROOT, 'sources');
      await mkdir(dir, { recursive: true });
      const file = path.join(dir, `source-${size}.mp4`);
      const existing = await stat(file).catch(() => null);
      if (existing?.size !== size) await writeVideoFile(file, size, size);
      return file;
    })();
    sources.set(size, made);
  }
  return made;
}

/** Writes dirty pages back, so one measurement does not pay for the previous one's writes. */
export function syncDisk(): void {
  spawnSync('sync');
}

export async function scratchDir(name: string): Promise<string> {
  const dir = path.join(WORK_ROOT, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  return dir;
}

export async function removeScratch(): Promise<void> {
  sources.clear();
  await rm(WORK_ROOT, { recursive: true, force: true });
}
