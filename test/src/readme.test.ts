// The README's set-up steps must keep working on a fresh machine as the pins move.
import fs from 'node:fs/promises';
import path from 'node:path';
import { ROOT } from './support/processes.js';

describe('README set-up', () => {
  it('installs exactly the pnpm version package.json pins (a newer pnpm refuses to run it)', async () => {
    const readme = await fs.readFile(path.join(ROOT, 'README.md'), 'utf8');
    const pkg = JSON.parse(await fs.readFile(path.join(ROOT, 'package.json'), 'utf8')) as {
      packageManager: string;
    };
    const pinned = /^pnpm@(\d+\.\d+\.\d+)$/.exec(pkg.packageManager)?.[1];
    expect(pinned).toBeDefined();
    const dockerfile = await fs.readFile(path.join(ROOT, 'Dockerfile'), 'utf8');
    const installs = [
      ...`${readme}\n${dockerfile}`.matchAll(/npm install -g (?:--\S+ )*pnpm@([^\s`]+)/g),
    ].map((m) => m[1]);
    expect(installs.length).toBeGreaterThanOrEqual(2);
    expect(installs.every((version) => version === pinned)).toBe(true);
  });

  it('keeps the two commands a newcomer runs', async () => {
    const readme = await fs.readFile(path.join(ROOT, 'README.md'), 'utf8');
    const setUp = readme.slice(readme.indexOf('## Set up'), readme.indexOf('## Using it'));
    expect(setUp).toContain('```sh\npnpm install && pnpm start\npnpm test\n```');
  });
});
