import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { waitFor, writeVideoFile } from '@gtr/core/testing';
import { GcoreClient, type GcoreVideo } from '@gtr/gcore';
import { type Emulator, startEmulator } from '@gtr/gcore-emulator';
import { StatusBoard } from './batching/status-board.js';

/** The `id=…` list calls the emulator saw, and every id they asked for. */
function listCalls(emulator: Emulator) {
  const lists = emulator.requests().filter((r) => r.method === 'GET' && r.path === '/videos' && r.query.id);
  return { lists: lists.length, ids: lists.flatMap((r) => r.query.id!.split(',')) };
}

describe('StatusBoard against the emulator', () => {
  let emulator: Emulator;
  let gcore: GcoreClient;
  let origin: http.Server;
  let originUrl: string;
  let tmp: string;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'status-board-'));
    const file = path.join(tmp, 'v.mp4');
    await writeVideoFile(file, 8_192, 5);
    const body = await fs.readFile(file);
    origin = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'video/mp4', 'Content-Length': body.length }).end(body);
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}/v.mp4`;
  });
  afterAll(async () => {
    await new Promise((resolve) => origin.close(resolve));
    await fs.rm(tmp, { recursive: true, force: true });
  });
  beforeEach(async () => {
    emulator = await startEmulator({ faults: { processingStepMs: 200 } });
    gcore = new GcoreClient({ baseUrl: emulator.url, apiKey: emulator.apiKey });
  });
  afterEach(() => emulator.close());

  it('fills each list call with other tracked videos, answers their lookups from it, and reports one that changed', async () => {
    // Videos without a file stay `empty`: tracked, never settled.
    const ids: number[] = [];
    for (let i = 0; i < 60; i++) ids.push((await gcore.createVideo({ name: `tracked ${i}` })).id);
    const changed: GcoreVideo[] = [];
    let clock = Date.now();
    const board = new StatusBoard(gcore, {
      windowMs: 5,
      freshMs: 10_000,
      now: () => clock,
      onChange: (v) => changed.push(v),
    });
    await Promise.all(ids.map((id) => board.get(id)));
    emulator.resetStats();

    // Past freshness, five trackers ask: one call answers them and looks at the other 55 in passing.
    clock += 11_000;
    await Promise.all(ids.slice(0, 5).map((id) => board.get(id)));
    const first = listCalls(emulator);
    expect([emulator.stats().apiRequests, first.lists]).toEqual([1, 1]);
    expect(new Set(first.ids)).toEqual(new Set(ids.map(String)));
    // The others' own lookups are answered from it: no call.
    await Promise.all(ids.slice(5).map((id) => board.get(id)));
    expect(emulator.stats().apiRequests).toBe(1);

    // A video Gcore processes (it pulls the origin): seen once, then only in passing, while one
    // tracker of another video keeps asking. Its move from where it was is reported.
    const moving = await gcore.createVideo({ name: 'moving', origin_url: originUrl });
    const seenFirst = (await board.get(moving.id)).status;
    await waitFor(
      async () => {
        clock += 11_000;
        await board.get(ids[0]!);
        return changed.find((v) => v.id === moving.id);
      },
      { timeoutMs: 30_000, intervalMs: 50, what: 'the moving video to be reported' },
    );
    expect(changed.find((v) => v.id === moving.id)!.status).not.toBe(seenFirst);
    // Nobody else moved: the empty ones are never reported.
    expect(changed.filter((v) => v.id !== moving.id)).toEqual([]);
  });
});
