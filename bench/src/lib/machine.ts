import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { round } from './stats.js';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  os: string;
  disk: { device: string; filesystem: string; sizeGiB: number; rotational: boolean | null; path: string };
}

export function describeMachine(dir: string): Machine {
  const cpus = os.cpus();
  let device = 'unknown';
  let filesystem = 'unknown';
  let sizeGiB = 0;
  try {
    const line =
      execFileSync('df', ['-P', '-T', '-k', dir], { encoding: 'utf8' }).trim().split('\n')[1] ?? '';
    const [dev, fs, blocks] = line.split(/\s+/);
    device = dev ?? device;
    filesystem = fs ?? filesystem;
    sizeGiB = round(Number(blocks) / 1024 / 1024, 1);
  } catch {
    // df missing: leave unknown
  }
  let rotational: boolean | null = null;
  const block = /^\/dev\/([a-z]+)/.exec(device)?.[1];
  if (block) {
    try {
      rotational = readFileSync(`/sys/block/${block}/queue/rotational`, 'utf8').trim() === '1';
    } catch {
      // a partition or a device-mapper name: unknown
    }
  }
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: round(os.totalmem() / 1024 ** 3, 1),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    disk: { device, filesystem, sizeGiB, rotational, path: dir },
  };
}

export interface DiskSpeed {
  bytes: number;
  seconds: number;
  mbPerSecond: number;
  command: string;
}

/** `dd if=/dev/zero of=… bs=1M count=N conv=fdatasync`: the disk's own sequential write speed. */
export async function measureDisk(dir: string, bytes: number): Promise<DiskSpeed> {
  const file = path.join(dir, 'dd.bin');
  const count = Math.round(bytes / (1024 * 1024));
  const args = ['if=/dev/zero', `of=${file}`, 'bs=1M', `count=${count}`, 'conv=fdatasync'];
  spawnSync('sync');
  const started = performance.now();
  const result = spawnSync('dd', args, { encoding: 'utf8' });
  const seconds = (performance.now() - started) / 1000;
  await rm(file, { force: true });
  if (result.status !== 0) throw new Error(`dd failed: ${result.stderr}`);
  const size = count * 1024 * 1024;
  return {
    bytes: size,
    seconds: round(seconds),
    mbPerSecond: round(size / 1e6 / seconds, 1),
    command: `dd ${args.join(' ').replace(file, '<scratch>/dd.bin')}`,
  };
}
