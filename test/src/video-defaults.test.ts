import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Logger, loadConfig } from '@gtr/core';
import { writeVideoFile } from '@gtr/core/testing';
import { workerDepsFromConfig } from '@gtr/worker';
import { type Stack, startStack } from './support/stack.js';

const MB = 1024 * 1024;

/**
 * GCORE_VIDEO_DEFAULTS end to end: the variable as the worker's configuration reads it, an upload
 * through the relay, the create call the emulator receives.
 */
describe('GCORE_VIDEO_DEFAULTS', () => {
  let tmp: string;
  let stack: Stack;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'defaults-'));
  });
  afterAll(() => fs.rm(tmp, { recursive: true, force: true }));
  afterEach(() => stack?.close());

  it("gives an upload's video the operator's defaults, and lets the upload's metadata override them", async () => {
    const config = loadConfig({
      GCORE_VIDEO_DEFAULTS: '{"auto_transcribe_audio_language":"disable","directory_id":12,"priority":3}',
    });
    const { settings } = workerDepsFromConfig(config, {
      redis: null as never,
      queues: null as never,
      logger: null as unknown as Logger,
      gcore: { apiUrl: 'http://127.0.0.1:1', apiKey: 'unused' },
    });
    stack = await startStack({ worker: { videoDefaults: settings.videoDefaults! } });

    const file = path.join(tmp, 'clip.mp4');
    await writeVideoFile(file, 2 * MB, 1);
    const plain = await stack.upload(file, { name: 'Plain' });
    const custom = await stack.upload(file, {
      name: 'Custom',
      auto_transcribe_audio_language: 'ger',
      directory_id: '34',
    });
    const [a, b] = await Promise.all([
      stack.waitForState(plain, ['ready', 'failed']),
      stack.waitForState(custom, ['ready', 'failed']),
    ]);
    expect([a.state, b.state]).toEqual(['ready', 'ready']);

    const shown = async (id: number) => {
      const res = await fetch(`${stack.emulator.url}/streaming/videos/${id}`, {
        headers: { authorization: `APIKey ${stack.emulator.apiKey}` },
      });
      return (await res.json()) as Record<string, unknown>;
    };
    expect(await shown(a.video!.id)).toMatchObject({
      name: 'Plain',
      auto_transcribe_audio_language: 'disable',
      directory_id: 12,
      priority: 3,
    });
    expect(await shown(b.video!.id)).toMatchObject({
      name: 'Custom',
      auto_transcribe_audio_language: 'ger',
      directory_id: 34,
      priority: 3,
    });
  });
});
