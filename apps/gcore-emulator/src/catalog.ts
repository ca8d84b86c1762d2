import { randomBytes, randomInt } from 'node:crypto';
import type { Clock } from './clock.js';

export type VideoStatus = 'empty' | 'pending' | 'viewable' | 'ready' | 'error';

export interface ConvertedVideo {
  name: string;
  progress: number;
  status: 'processing' | 'complete' | 'error';
  error: string;
  mp4_url: string | null;
}

/** Create-video fields that the emulator only stores and echoes back. */
export type ExtraFields = Record<string, unknown>;

/** One video entity, with what the emulator observed about it. */
export interface VideoEntity {
  id: number;
  clientId: number;
  slug: string;
  name: string;
  description: string | null;
  status: VideoStatus;
  error: string | null;
  duration: number | null;
  originSize: number | null;
  originUrl: string | null;
  originHttpHeaders: string | null;
  createdAt: number;
  updatedAt: number;
  viewable: boolean;
  screenshots: string[];
  convertedVideos: ConvertedVideo[];
  extra: ExtraFields;
  bytesReceived: number;
  size: number | null;
  sha256: string | null;
  tusUploads: number;
  patches: number;
  bytesPatched: number;
  pullAttempts: number;
  deleted: boolean;
  deletedAt: number | null;
  statusHistory: VideoStatus[];
}

/** The introspection view of a video, for tests. */
export interface EmulatedVideo {
  id: number;
  slug: string;
  name: string;
  description: string | null;
  status: VideoStatus;
  error: string | null;
  clientId: number;
  /** Bytes of the finished file (upload or pull). */
  bytesReceived: number;
  size: number | null;
  sha256: string | null;
  /** TUS uploads created for it (successful POSTs). */
  tusUploads: number;
  /** PATCH requests to its uploads, faulted ones included. */
  patches: number;
  /** PATCH body bytes taken, re-sent bytes and those of dropped PATCHes included. */
  bytesPatched: number;
  originUrl: string | null;
  pullAttempts: number;
  deleted: boolean;
  /** Every status it had, in order, starting with `empty`. */
  statusHistory: VideoStatus[];
}

export interface NewVideo {
  name: string;
  description?: string | null;
  originUrl?: string | null;
  originHttpHeaders?: string | null;
  extra?: ExtraFields;
}

const SLUG_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomSlug(): string {
  const length = randomInt(10, 17);
  return Array.from(randomBytes(length), (b) => SLUG_ALPHABET[b % SLUG_ALPHABET.length]).join('');
}

/** Called when a video's status changes or it gets an error, and when it is deleted. */
export interface VideoListener {
  changed(video: VideoEntity): void;
  deleted(video: VideoEntity): void;
}

/** The emulator's videos, and which TUS upload belongs to which video. */
export class VideoCatalog {
  #videos = new Map<number, VideoEntity>();
  #uploads = new Map<string, number>();
  // Random start, so a restarted emulator does not hand out ids a relay may still remember.
  #nextId = randomInt(100_000, 1_000_000);

  constructor(
    private readonly clock: Clock,
    private readonly clientId: number,
    private readonly listener: VideoListener,
  ) {}

  create(input: NewVideo): VideoEntity {
    const now = this.clock.now();
    const video: VideoEntity = {
      id: this.#nextId++,
      clientId: this.clientId,
      slug: randomSlug(),
      name: input.name,
      description: input.description ?? null,
      status: 'empty',
      error: null,
      duration: null,
      originSize: null,
      originUrl: input.originUrl ?? null,
      originHttpHeaders: input.originHttpHeaders ?? null,
      createdAt: now,
      updatedAt: now,
      viewable: false,
      screenshots: [],
      convertedVideos: [],
      extra: input.extra ?? {},
      bytesReceived: 0,
      size: null,
      sha256: null,
      tusUploads: 0,
      patches: 0,
      bytesPatched: 0,
      pullAttempts: 0,
      deleted: false,
      deletedAt: null,
      statusHistory: ['empty'],
    };
    this.#videos.set(video.id, video);
    this.listener.changed(video);
    return video;
  }

  /** A video, deleted or not. */
  get(id: number): VideoEntity | undefined {
    return this.#videos.get(id);
  }

  /** A video that has not been deleted. */
  live(id: number): VideoEntity | undefined {
    const video = this.#videos.get(id);
    return video && !video.deleted ? video : undefined;
  }

  all(): VideoEntity[] {
    return [...this.#videos.values()];
  }

  touch(video: VideoEntity): void {
    video.updatedAt = this.clock.now();
  }

  /** Moves a video to `status` (and sets `error`), telling the listener when anything changed. */
  transition(video: VideoEntity, status: VideoStatus, error: string | null = video.error): void {
    if (video.deleted || (video.status === status && video.error === error)) return;
    if (video.status !== status) video.statusHistory.push(status);
    video.status = status;
    video.error = error;
    this.touch(video);
    this.listener.changed(video);
  }

  delete(video: VideoEntity): void {
    if (video.deleted) return;
    video.deleted = true;
    video.deletedAt = this.clock.now();
    this.listener.deleted(video);
  }

  bindUpload(uploadId: string, video: VideoEntity): void {
    this.#uploads.set(uploadId, video.id);
  }

  videoForUpload(uploadId: string): VideoEntity | undefined {
    const id = this.#uploads.get(uploadId);
    return id === undefined ? undefined : this.#videos.get(id);
  }
}

export function toEmulatedVideo(video: VideoEntity): EmulatedVideo {
  return {
    id: video.id,
    slug: video.slug,
    name: video.name,
    description: video.description,
    status: video.status,
    error: video.error,
    clientId: video.clientId,
    bytesReceived: video.bytesReceived,
    size: video.size,
    sha256: video.sha256,
    tusUploads: video.tusUploads,
    patches: video.patches,
    bytesPatched: video.bytesPatched,
    originUrl: video.originUrl,
    pullAttempts: video.pullAttempts,
    deleted: video.deleted,
    statusHistory: [...video.statusHistory],
  };
}
