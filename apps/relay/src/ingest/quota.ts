import fs from 'node:fs/promises';
import { AppError, type LuaArg, type LuaScript, type RedisClient, relayKeys } from '@gtr/core';
import {
  QUOTA_ADOPT,
  QUOTA_DECLARE,
  QUOTA_RECOUNT,
  QUOTA_RELEASE,
  QUOTA_RELEASE_STALE,
  QUOTA_RESERVE,
} from '../lua-scripts.js';

/** The limits on unfinished uploads (see README, Configuration). 0 turns a limit off. */
export interface QuotaLimits {
  /** `TOOL_MAX_OPEN_UPLOADS`: unfinished uploads (partial concatenation uploads included) per owner. */
  maxOpenUploads: number;
  /** `TOOL_MAX_OPEN_BYTES`: the declared lengths of an owner's unfinished uploads, added up. */
  maxOpenBytes: number;
  /** `DISK_RESERVE_BYTES`: free bytes the disk of the upload dir keeps after an upload's declared length. */
  diskReserveBytes: number;
}

/** The owner an upload is counted for when its creator's token has no name (never in practice). */
export const UNKNOWN_OWNER = 'unknown';

/** One owner's unfinished uploads, as counted for its quota. */
export interface OpenUploads {
  owner: string;
  uploads: number;
  /** Their declared lengths, added up (a deferred length counts from its declaration). */
  bytes: number;
}

/** What a creation asks to hold: one more open upload of `owner`, of `size` bytes (undefined: deferred). */
export interface Reservation {
  id: string;
  owner: string;
  size: number | undefined;
  /**
   * Uploads this one takes the place of (a final upload's partials): their share is not counted
   * against the tool's limits, so a tool at its limits may still concatenate what it uploaded.
   */
  replaces?: readonly string[];
}

/** An upload found unfinished on disk, for {@link UploadQuota.reconcile}. */
export interface HeldUpload {
  owner: string;
  bytes: number;
}

/** What a reconcile pass changed in Redis. */
export interface QuotaReconcileReport {
  /** Unfinished uploads on disk that had no (or a different) entry. */
  adopted: number;
  /** Entries with no unfinished upload on disk behind them. */
  released: number;
}

/**
 * How long an entry may go without an unfinished upload on disk behind it before a reconcile
 * pass releases it: a creation holds its entry from before its files exist.
 */
export const RESERVATION_GRACE_MS = 30_000;

export interface UploadQuotaOptions {
  redis: RedisClient;
  /** REDIS_PREFIX: the keys share it (and, on a cluster, its hash tag: one slot). */
  prefix: string;
  /** Whose disk DISK_RESERVE_BYTES is about. */
  uploadDir: string;
  limits: QuotaLimits;
  now?: () => number;
}

/**
 * The limits on each owner's unfinished uploads (TOOL_MAX_OPEN_UPLOADS, TOOL_MAX_OPEN_BYTES) and
 * the disk's reserve (DISK_RESERVE_BYTES), checked when an upload is created or declares its
 * length. Each unfinished upload holds one entry in Redis, shared by every relay of the fleet,
 * taken with the check in one script (no two creations both get the last place) and let go once
 * the upload finishes or is removed; the reconciler recomputes the entries from the upload dir,
 * so that a relay dying between the two cannot keep a place taken. The scripts are
 * `lua/quota-*.lua`; every one takes the same three KEYS.
 */
export class UploadQuota {
  private readonly keys: [string, string, string];
  private readonly now: () => number;

  constructor(private readonly options: UploadQuotaOptions) {
    const keys = relayKeys(options.prefix);
    this.keys = [keys.quotaUploads, keys.quotaCount, keys.quotaBytes];
    this.now = options.now ?? Date.now;
  }

  get limits(): QuotaLimits {
    return this.options.limits;
  }

  /**
   * Holds a place for a new upload, or throws 429 `UPLOAD_QUOTA_EXCEEDED` / 507
   * `INSUFFICIENT_STORAGE` saying which limit, having held nothing.
   */
  async reserve(reservation: Reservation): Promise<void> {
    const { id, owner, size } = reservation;
    await this.ensureRoomFor(size ?? 0);
    const { maxOpenUploads, maxOpenBytes } = this.options.limits;
    const replaces = [...new Set(reservation.replaces ?? [])];
    const answer = await this.counted(
      QUOTA_RESERVE,
      id,
      owner,
      String(size ?? 0),
      maxOpenUploads,
      maxOpenBytes,
      this.now(),
      ...replaces,
    );
    this.check(answer, owner, size ?? 0);
  }

  /** A deferred-length upload declares its length: held against the bytes limit and the disk, or refused (nothing changes). */
  async declare(id: string, owner: string, size: number): Promise<void> {
    await this.ensureRoomFor(size);
    const answer = await this.counted(
      QUOTA_DECLARE,
      id,
      owner,
      String(size),
      this.options.limits.maxOpenBytes,
      this.now(),
    );
    this.check(answer, owner, size);
  }

  /** The upload finished or is gone: its place is free. Idempotent. */
  async release(id: string): Promise<void> {
    // Not waited for through an outage (a finishing PATCH would wait out the command timeout):
    // the reconciler frees the place once Redis is back.
    if (this.options.redis.status !== 'ready') throw new Error(`Redis is ${this.options.redis.status}`);
    await this.run(QUOTA_RELEASE, id);
  }

  /** Every owner with unfinished uploads, by name. */
  async open(): Promise<OpenUploads[]> {
    const [counts, bytes] = await Promise.all([
      this.options.redis.hgetall(this.keys[1]),
      this.options.redis.hgetall(this.keys[2]),
    ]);
    return Object.entries(counts)
      .map(([owner, n]) => ({ owner, uploads: Number(n), bytes: Number(bytes[owner] ?? 0) }))
      .sort((a, b) => a.owner.localeCompare(b.owner));
  }

  /**
   * Makes the entries agree with the unfinished uploads on disk (`onDisk`, by id): each gets its
   * entry, and an entry with none behind it is released once it is older than `graceMs` (a
   * creation holds its entry from before its files exist). An upload that finishes while a pass
   * runs may be held again by it: the next pass releases it.
   */
  async reconcile(
    onDisk: ReadonlyMap<string, HeldUpload>,
    graceMs = RESERVATION_GRACE_MS,
  ): Promise<QuotaReconcileReport> {
    const report: QuotaReconcileReport = { adopted: 0, released: 0 };
    const entries = await this.options.redis.hgetall(this.keys[0]);
    const now = this.now();
    for (const [id, held] of onDisk) {
      if ((await this.run(QUOTA_ADOPT, id, held.owner, String(held.bytes), now)) === 1) report.adopted++;
    }
    for (const [id, raw] of Object.entries(entries)) {
      if (onDisk.has(id)) continue;
      const at = (JSON.parse(raw) as { t?: unknown }).t;
      if (typeof at === 'number' && now - at < graceMs) continue;
      if ((await this.run(QUOTA_RELEASE_STALE, id, String(at))) === 1) report.released++;
    }
    await this.run(QUOTA_RECOUNT);
    return report;
  }

  /**
   * 507 when the disk of the upload dir would keep less than DISK_RESERVE_BYTES free after `size`
   * more bytes (and, with no reserve, when they do not fit). A disk that cannot be asked is not
   * a refusal: writing to it will tell.
   */
  private async ensureRoomFor(size: number): Promise<void> {
    const reserve = this.options.limits.diskReserveBytes;
    if (reserve === 0 && size === 0) return;
    const stats = await fs.statfs(this.options.uploadDir).catch(() => null);
    if (!stats) return;
    const free = stats.bavail * stats.bsize;
    if (free - size >= reserve) return;
    throw new AppError(
      'INSUFFICIENT_STORAGE',
      reserve > 0
        ? `the relay's disk would keep less than DISK_RESERVE_BYTES=${reserve} bytes free after this upload's ${size} bytes; try again later`
        : `the relay's disk has no room for this upload's ${size} bytes; try again later`,
    );
  }

  private check(answer: unknown, owner: string, size: number): void {
    const [status, count, bytes] = answer as [number, number, number];
    const { maxOpenUploads, maxOpenBytes } = this.options.limits;
    if (status === -1) {
      throw new AppError(
        'UPLOAD_QUOTA_EXCEEDED',
        `tool ${owner} has ${count} open uploads (TOOL_MAX_OPEN_UPLOADS=${maxOpenUploads})`,
      );
    }
    if (status === -2) {
      throw new AppError(
        'UPLOAD_QUOTA_EXCEEDED',
        `tool ${owner} has ${bytes} bytes declared in open uploads; ${size} more would pass TOOL_MAX_OPEN_BYTES=${maxOpenBytes}`,
      );
    }
  }

  /** A check that holds a place: when Redis cannot answer, the upload is refused (fail closed), retryably. */
  private async counted(script: LuaScript, ...args: LuaArg[]): Promise<unknown> {
    try {
      return await this.run(script, ...args);
    } catch (error) {
      throw new AppError(
        'QUEUE_UNAVAILABLE',
        "the relay cannot count this tool's open uploads right now (Redis); try again shortly",
        503,
        true,
        { cause: error },
      );
    }
  }

  private run(script: LuaScript, ...args: LuaArg[]): Promise<unknown> {
    return script.run(this.options.redis, this.keys, args);
  }
}

/** The open uploads as the summary and `GET /api/open-uploads` answer them (a limit of 0 is null: none). */
export interface OpenUploadsReport {
  limits: { max_open_uploads: number | null; max_open_bytes: number | null; disk_reserve_bytes: number };
  /** By owner name; every owner asked for is there, with zeros when it has none open. */
  owners: OpenUploads[];
}

/**
 * The open uploads of `owners` (and, with `others`, of every other owner holding some: a token
 * removed from the configuration, `unknown`), for one principal's eyes.
 */
export async function openUploadsReport(
  quota: UploadQuota,
  owners: readonly string[],
  { others }: { others: boolean },
): Promise<OpenUploadsReport> {
  const open = new Map((await quota.open()).map((entry) => [entry.owner, entry]));
  const names = new Set(owners);
  if (others) for (const owner of open.keys()) names.add(owner);
  const { maxOpenUploads, maxOpenBytes, diskReserveBytes } = quota.limits;
  return {
    limits: {
      max_open_uploads: maxOpenUploads || null,
      max_open_bytes: maxOpenBytes || null,
      disk_reserve_bytes: diskReserveBytes,
    },
    owners: [...names]
      .sort((a, b) => a.localeCompare(b))
      .map((owner) => open.get(owner) ?? { owner, uploads: 0, bytes: 0 }),
  };
}
