/**
 * The Gcore emulator in a process of its own, watched from inside: Node's HTTP diagnostics
 * channels tell, per TUS upload, when its first PATCH arrived and when the last byte of its final
 * PATCH was read — no polling, no change to the emulator.
 */
import dc from 'node:diagnostics_channel';
import { rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { type Faults, startEmulator } from '@gtr/gcore-emulator';
import { now } from '../lib/clock.js';
import { serve } from '../lib/rpc.js';

interface Tracked {
  uploadId: string;
  videoId: number;
  length: number;
  /** The create-video request that preceded its upload parameters (sequential runs only). */
  createRequestedAt: number | null;
  paramsRequestedAt: number | null;
  createdAt: number;
  firstPatchAt: number | null;
  /** The last byte of the final PATCH was read by the emulator. */
  lastByteAt: number | null;
  /** The final PATCH was answered (after the emulator's own sha256 of the file). */
  answeredAt: number | null;
}

export interface UploadTiming extends Tracked {
  name: string | null;
  bytesPatched: number;
}

interface Message {
  request: IncomingMessage;
  response: ServerResponse;
}

const options = JSON.parse(process.env.BENCH_EMULATOR ?? '{}') as {
  dataDir: string;
  faults?: Partial<Faults>;
};
const uploads = new Map<string, Tracked>();
const paramsAt = new Map<number, number>();
const createStarts: number[] = [];
const createByVideo = new Map<number, number>();
const watchers = new Set<() => void>();
const changed = () => {
  for (const watcher of [...watchers]) watcher();
};

const lastSegment = (url: string) => new URL(url, 'http://x').pathname.split('/').filter(Boolean).pop() ?? '';

// Express rewrites req.url while routing (mount paths are cut off): keep the URL as it arrived.
const urls = new WeakMap<IncomingMessage, string>();

/** Gcore API calls by what they are for (the migration section reports them). */
const calls: Record<string, number> = {};
/** Ids asked for by the `id=1,2,3` list lookups, summed. */
let idsListed = 0;

/** What one API call is for: creates, status lookups, searches, the rest. */
function callKind(method: string, url: string): string | null {
  const u = new URL(url, 'http://x');
  if (!u.pathname.startsWith('/streaming/')) return null;
  const p = u.pathname.replace(/\/+$/, '');
  if (method === 'POST' && p === '/streaming/videos/batch') return 'create (batch)';
  if (method === 'POST' && p === '/streaming/videos') return 'create (single)';
  if (method === 'GET' && p === '/streaming/videos' && u.searchParams.has('id')) {
    idsListed += u.searchParams.get('id')!.split(',').length;
    return 'status (list id=…)';
  }
  if (method === 'GET' && /^\/streaming\/videos\/\d+$/.test(p)) return 'status (single)';
  if (method === 'GET' && p === '/streaming/videos') return 'search';
  return `${method} other`;
}

dc.subscribe('http.server.request.start', (message) => {
  const { request } = message as Message;
  const url = request.url ?? '';
  urls.set(request, url);
  const kind = callKind(request.method ?? '', url);
  if (kind) calls[kind] = (calls[kind] ?? 0) + 1;
  const at = now();
  if (request.method === 'POST' && /^\/streaming\/videos\/?(\?|$)/.test(url)) {
    createStarts.push(at);
    return;
  }
  const params = /^\/streaming\/videos\/(\d+)\/upload/.exec(url);
  if (request.method === 'GET' && params) {
    const videoId = Number(params[1]);
    if (!paramsAt.has(videoId)) {
      paramsAt.set(videoId, at);
      const create = createStarts.filter((t) => t <= at).pop();
      if (create !== undefined) createByVideo.set(videoId, create);
    }
    return;
  }
  if (request.method !== 'PATCH' || !url.startsWith('/upload/')) return;
  const upload = uploads.get(lastSegment(url));
  if (!upload) return;
  upload.firstPatchAt ??= at;
  const offset = Number(request.headers['upload-offset']);
  const length = Number(request.headers['content-length']);
  if (offset + length >= upload.length) {
    // An 'end' listener does not put the body into flowing mode: the emulator still reads it.
    request.once('end', () => {
      upload.lastByteAt ??= now();
      changed();
    });
  }
  changed();
});

dc.subscribe('http.server.response.finish', (message) => {
  const { request, response } = message as Message;
  const url = urls.get(request) ?? request.url ?? '';
  if (!url.startsWith('/upload')) return;
  if (request.method === 'POST' && response.statusCode === 201) {
    const id = lastSegment(String(response.getHeader('location') ?? ''));
    const meta = parseMetadata(String(request.headers['upload-metadata'] ?? ''));
    const videoId = Number(meta.video_id);
    uploads.set(id, {
      uploadId: id,
      videoId,
      length: Number(request.headers['upload-length']),
      createRequestedAt: createByVideo.get(videoId) ?? null,
      paramsRequestedAt: paramsAt.get(videoId) ?? null,
      createdAt: now(),
      firstPatchAt: null,
      lastByteAt: null,
      answeredAt: null,
    });
  } else if (request.method === 'PATCH' && response.statusCode === 204) {
    const upload = uploads.get(lastSegment(url));
    if (upload && Number(response.getHeader('upload-offset')) >= upload.length) {
      upload.answeredAt ??= now();
      changed();
    }
  }
});

function parseMetadata(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of header.split(',')) {
    const [key, value] = pair.trim().split(' ');
    if (key) out[key] = value ? Buffer.from(value, 'base64').toString() : '';
  }
  return out;
}

const emulator = await startEmulator({
  port: 0,
  dataDir: options.dataDir,
  ...(options.faults ? { faults: options.faults } : {}),
});

function timings(names?: string[]): UploadTiming[] {
  const wanted = names ? new Set(names) : null;
  const out: UploadTiming[] = [];
  for (const upload of uploads.values()) {
    const video = emulator.video(upload.videoId);
    const name = video?.name ?? null;
    if (wanted && (name === null || !wanted.has(name))) continue;
    out.push({ ...upload, name, bytesPatched: video?.bytesPatched ?? 0 });
  }
  return out;
}

/** Resolves once every named upload has `field` set (and, for 'processed', its file inspected). */
function waitFor(names: string[], field: 'firstPatchAt' | 'lastByteAt' | 'processed', timeoutMs: number) {
  return new Promise<UploadTiming[]>((resolve, reject) => {
    const check = () => {
      const found = timings(names);
      const done = found.filter((t) =>
        field === 'processed'
          ? (emulator.video(t.videoId)?.bytesReceived ?? 0) >= t.length && t.answeredAt !== null
          : t[field] !== null,
      );
      if (done.length >= names.length) {
        watchers.delete(check);
        clearTimeout(timer);
        clearInterval(poll);
        resolve(found);
      }
    };
    const timer = setTimeout(() => {
      watchers.delete(check);
      clearInterval(poll);
      reject(new Error(`emulator: ${names.length} uploads did not reach ${field} in ${timeoutMs} ms`));
    }, timeoutMs);
    // Processing state changes have no HTTP event of their own.
    const poll = setInterval(check, 50);
    watchers.add(check);
    check();
  });
}

serve({
  now: () => now(),
  stats: () => emulator.stats(),
  timings: (params: { names?: string[] }) => timings(params.names),
  waitFor: (params: {
    names: string[];
    field: 'firstPatchAt' | 'lastByteAt' | 'processed';
    timeoutMs: number;
  }) => waitFor(params.names, params.field, params.timeoutMs),
  videosCount: () => emulator.videos().length,
  /** Merges into the emulator's faults (its link's bandwidth, say) between measurements. */
  setFaults: (patch: Partial<Faults>) => emulator.setFaults(patch),
  calls: () => ({ calls: { ...calls }, idsListed }),
  /** The emulator's video id for every origin URL (the migration section checks the mapping). */
  videosByOrigin: () => Object.fromEntries(emulator.videos().map((v) => [v.originUrl ?? '', v.id])),
  /** Deletes the files of finished uploads (they are only taking disk space). */
  dropFiles: async () => {
    for (const upload of uploads.values()) {
      if (upload.answeredAt === null) continue;
      const file = join(options.dataDir, 'uploads', upload.uploadId);
      await rm(file, { force: true });
      await rm(`${file}.json`, { force: true });
    }
  },
  close: async () => {
    await emulator.close();
  },
});
process.send?.({ ready: emulator.url });
