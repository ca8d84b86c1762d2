import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '@gtr/core';
import { formatBytes } from '../format.js';
import type { CliIo } from '../io.js';
import { type DoctorOptions, message, type Report } from './report.js';

/** `disk`: DATA_DIR (or where it will be) is writable and has --min-free free. */
export async function checkDisk(
  config: Config,
  io: CliIo,
  options: DoctorOptions,
  report: Report,
): Promise<void> {
  const dataDir = path.resolve(io.root ?? io.cwd, config.DATA_DIR);
  try {
    const dir = await existingAncestor(dataDir);
    const stats = await fs.statfs(dir);
    const free = Number(stats.bavail) * Number(stats.bsize);
    const where = dir === dataDir ? dataDir : `${dir} (DATA_DIR ${dataDir} is not created yet)`;
    let writable = true;
    await fs.access(dir, fs.constants.W_OK).catch(() => {
      writable = false;
    });
    const need = `${formatBytes(options.minFree)} wanted`;
    if (!writable) {
      report('disk', 'fail', `${where} is not writable by this user; the relay keeps uploads there`);
    } else if (free < options.minFree) {
      report(
        'disk',
        'fail',
        `${formatBytes(free)} free under ${where}, ${need} (--min-free): uploads are buffered there before they go to Gcore`,
      );
    } else {
      report('disk', 'ok', `${formatBytes(free)} free under ${where} (${need})`);
    }
  } catch (error) {
    report('disk', 'fail', `cannot check ${dataDir}: ${message(error)}`);
  }
}

/** The nearest directory that exists at or above `dir` (DATA_DIR may not be created yet). */
async function existingAncestor(dir: string): Promise<string> {
  let current = dir;
  for (;;) {
    try {
      if ((await fs.stat(current)).isDirectory()) return current;
    } catch {}
    const parent = path.dirname(current);
    if (parent === current) return current;
    current = parent;
  }
}
