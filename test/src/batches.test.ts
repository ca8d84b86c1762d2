import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { PublicBatch, PublicJob } from '@gtr/core';
import { waitFor, writeVideoFile } from '@gtr/core/testing';
import { type Origin, sendFile, startOrigin } from './support/origin.js';
import { type Stack, startStack } from './support/stack.js';

const COUNT = 300;
/** Items whose origin answers 404 until the test lets them through: their jobs fail at Gcore. */
const FAILING = new Set([7, 57, 107, 157, 207, 257]);

interface BatchAnswer {
  jobs: PublicJob[];
  created: boolean[];
  rejected: unknown[];
  batch: PublicBatch | null;
}

const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

/** RFC 4180, enough for the export (quoted cells may hold commas and quotes). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  for (const line of text.split('\r\n').filter(Boolean)) {
    const cells: string[] = [];
    let cell = '';
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i]!;
      if (quoted && c === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = !quoted;
      else if (c === ',' && !quoted) {
        cells.push(cell);
        cell = '';
      } else cell += c;
    }
    cells.push(cell);
    rows.push(cells);
  }
  return rows;
}

describe('a migration of 300 imports as one batch', () => {
  let tmp: string;
  let origin: Origin;
  let stack: Stack;
  const failing = new Set(FAILING);

  const api = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${stack.relay.url}${route}`, {
      method,
      headers: {
        Authorization: `Bearer ${stack.relay.token}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return {
      status: res.status,
      text,
      headers: res.headers,
      body: text.startsWith('{') ? JSON.parse(text) : null,
    };
  };

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'batches-'));
    for (let i = 0; i < COUNT; i++) await writeVideoFile(path.join(tmp, `${i}.mp4`), 4_096 + i, 1_000 + i);
    origin = await startOrigin(async (req, res, p) => {
      const n = /^\/videos\/(\d+)\.mp4$/.exec(p)?.[1];
      if (n === undefined || Number(n) >= COUNT || failing.has(Number(n)))
        return void res.writeHead(404).end();
      await sendFile(req, res, path.join(tmp, `${n}.mp4`));
    });
    // No pre-flight: the failing origins are created as jobs and fail at Gcore's pull.
    stack = await startStack({ relay: { imports: { preflight: false, allowPrivate: true } } });
  });
  afterAll(async () => {
    await stack?.close();
    await origin?.close();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it(
    'counts add up to 300 while it runs, the export maps every origin URL to its Gcore video, search finds one by name, and retry-failed retries only the failed',
    async () => {
      const items = Array.from({ length: COUNT }, (_, i) => ({
        origin_url: `${origin.url}/videos/${i}.mp4`,
        name: `Migrated video ${1000 + i}`,
      }));
      const sent = await api('POST', '/api/imports/batch', { name: 'library 2025', items });
      expect(sent.status).toBe(202);
      const answer = sent.body as BatchAnswer;
      expect(answer.batch).toMatchObject({ name: 'library 2025', total: COUNT });
      const id = answer.batch!.id;
      expect(answer.jobs.every((j) => j.batch === id)).toBe(true);

      const snapshots: PublicBatch[] = [];
      const finished = await waitFor(
        async () => {
          const { body } = await api('GET', `/api/batches/${id}`);
          snapshots.push(body as PublicBatch);
          return body.finished_at ? (body as PublicBatch) : undefined;
        },
        { timeoutMs: 6 * 60_000, intervalMs: 100, what: 'the batch to finish' },
      );
      // Every look while it ran: the counts of every state add up to the total.
      expect(snapshots.length).toBeGreaterThan(1);
      for (const s of snapshots) {
        expect([s.total, sum(s.counts)]).toEqual([COUNT, COUNT]);
      }
      expect(snapshots.some((s) => s.finished_at === null)).toBe(true);
      expect(finished.counts).toMatchObject({ ready: COUNT - FAILING.size, failed: FAILING.size });
      expect(finished.eta_seconds).toBe(0);
      expect((await api('GET', '/api/batches')).body.items.map((b: PublicBatch) => b.id)).toContain(id);

      // A unique name among 300, with the default page size.
      const found = await api('GET', `/api/jobs?q=${encodeURIComponent('Migrated video 1234')}`);
      expect(found.body.items.map((j: PublicJob) => j.name)).toEqual(['Migrated video 1234']);
      const inBatch = await api('GET', `/api/jobs?batch=${id}&state=failed`);
      expect(inBatch.body.items.map((j: PublicJob) => j.origin_url).sort()).toEqual(
        [...FAILING].map((i) => items[i]!.origin_url).sort(),
      );

      // The export: one row per item, each with the video the emulator made from that URL.
      const csv = await api('GET', `/api/batches/${id}/export?format=csv`);
      expect(csv.status).toBe(200);
      expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
      const [header, ...rows] = parseCsv(csv.text);
      expect(header).toEqual([
        'index',
        'origin_url',
        'idempotency_key',
        'job_id',
        'name',
        'state',
        'video_id',
        'slug',
        'hls_url',
        'error_code',
        'error',
      ]);
      expect(rows).toHaveLength(COUNT);
      const col = (row: string[], name: string) => row[header!.indexOf(name)]!;
      expect(rows.map((r) => Number(col(r, 'index'))).sort((a, b) => a - b)).toEqual(items.map((_, i) => i));
      for (const row of rows) {
        const index = Number(col(row, 'index'));
        expect(col(row, 'origin_url')).toBe(items[index]!.origin_url);
        const video = stack.emulator.video(Number(col(row, 'video_id')));
        expect(video?.originUrl).toBe(items[index]!.origin_url);
        if (FAILING.has(index)) {
          expect(col(row, 'state')).toBe('failed');
          expect(col(row, 'error')).not.toBe('');
        } else {
          expect([col(row, 'state'), col(row, 'slug')]).toEqual(['ready', video!.slug]);
          expect(col(row, 'hls_url')).toMatch(/^https?:\/\/.+\.m3u8$/);
        }
      }
      const json = await api('GET', `/api/batches/${id}/export?format=json`);
      expect(JSON.parse(json.text)).toHaveLength(COUNT);

      // Retry the failed ones, now that their origin answers: only they move.
      failing.clear();
      const before = new Map(answer.jobs.map((j) => [j.id, j]));
      const readyBefore = new Map(
        (await Promise.all(answer.jobs.map((j) => stack.job(j.id)))).map((r) => [r.id, r]),
      );
      const retried = await api('POST', `/api/batches/${id}/retry`);
      expect(retried.status).toBe(202);
      expect(retried.body).toMatchObject({ retried: FAILING.size, refused: [] });
      const again = await waitFor(
        async () => {
          const { body } = await api('GET', `/api/batches/${id}`);
          expect(sum(body.counts)).toBe(COUNT);
          return body.counts.ready === COUNT ? (body as PublicBatch) : undefined;
        },
        { timeoutMs: 3 * 60_000, intervalMs: 200, what: 'the retried jobs to be ready' },
      );
      expect(again.finished_at).not.toBeNull();
      for (const [jobId, was] of readyBefore) {
        if (was.state !== 'ready') continue;
        const now = await stack.job(jobId);
        // Not touched: the same video, the same attempts, the same finish.
        expect([now.progress.video_id, now.attempts, now.finished_at]).toEqual([
          was.progress.video_id,
          was.attempts,
          was.finished_at,
        ]);
      }
      expect(before.size).toBe(COUNT);

      // The same batch sent again makes nothing and answers the same batch.
      const resent = await api('POST', '/api/imports/batch', { name: 'library 2025', items });
      expect((resent.body as BatchAnswer).batch?.id).toBe(id);
      expect((resent.body as BatchAnswer).created.every((c) => !c)).toBe(true);
    },
    10 * 60_000,
  );
});
